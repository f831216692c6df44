import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes a whole file so that a reader sees the old content or the new one, never a part:
 * a temporary file in the same directory, flushed, then renamed. The mode is set explicitly
 * (the umask does not widen or narrow it); a missing directory is made with dirMode.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, mode: number, dirMode = 0o755): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: dirMode });
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, data, { mode, flush: true });
    await chmod(temp, mode);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
