import { open } from 'node:fs/promises';
import { generateIdentity } from '../crypto/age.js';
import { KeyError } from '../errors.js';

/**
 * `ngcp-backup keygen`: a new age identity written to `file` with mode 0600, never over an
 * existing file. Returns its recipient (the public key for encryption.recipients).
 */
export async function writeNewIdentity(file: string, now = new Date()): Promise<string> {
  const { identity, recipient } = await generateIdentity();
  let handle;
  try {
    handle = await open(file, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new KeyError(code === 'EEXIST' ? `${file} already exists; not overwriting an identity` : `cannot create ${file} (${code})`);
  }
  try {
    await handle.chmod(0o600);
    await handle.writeFile(`# created: ${now.toISOString()}\n# public key: ${recipient}\n${identity}\n`);
  } finally {
    await handle.close();
  }
  return recipient;
}
