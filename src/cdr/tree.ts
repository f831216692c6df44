import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { NodeDataError } from '../errors.js';
import type { CdrTreeFile } from '../format/cdr-index.js';

/**
 * Every regular file under the export directory with its stat (no content is read): 100,000
 * files take about a second. Symlinks and other non-regular entries are ignored.
 */
export async function listCdrTree(dir: string, options: { concurrency?: number } = {}): Promise<CdrTreeFile[]> {
  try {
    if (!(await lstat(dir)).isDirectory()) throw new NodeDataError(`CDR export path ${dir} is not a directory`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new NodeDataError(`CDR export path ${dir} does not exist (cdr.path)`);
    throw error;
  }
  const out: CdrTreeFile[] = [];
  const pending: string[] = [''];
  const limit = options.concurrency ?? 8;
  const work = async (): Promise<void> => {
    for (;;) {
      const rel = pending.pop();
      if (rel === undefined) return;
      const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
      const files: string[] = [];
      for (const e of entries) {
        const child = rel === '' ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) pending.push(child);
        else if (e.isFile()) files.push(child);
      }
      for (let i = 0; i < files.length; i += 64) {
        await Promise.all(
          files.slice(i, i + 64).map(async (child) => {
            try {
              const st = await lstat(path.join(dir, child));
              if (st.isFile()) out.push({ path: child, size: st.size, mtimeMs: Math.trunc(st.mtimeMs), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
            } catch (error) {
              // Renamed by the exporter between readdir and lstat (`<name>.<pid>` -> `<name>`): the next run sees it.
              if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
            }
          }),
        );
      }
    }
  };
  // Workers take directories while others are discovered; re-run until no directory is left.
  while (pending.length > 0) await Promise.all(Array.from({ length: Math.min(limit, pending.length) }, work));
  return out;
}
