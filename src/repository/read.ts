import { IntegrityError } from '../errors.js';
import type { Storage } from './storage.js';

/** Manifests, drill reports and CDR indexes are far below this; anything bigger is not one. */
const TEXT_LIMIT = 256 * 1024 * 1024;

/**
 * A small plaintext object (a manifest, a drill report, a CDR index) as text. Refuses one larger
 * than `limit` bytes instead of holding it in memory.
 */
export async function readText(storage: Storage, key: string, limit = TEXT_LIMIT): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of await storage.get(key)) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new IntegrityError(`${storage.location}/${key} is larger than ${limit} bytes: not an object ngcp-backup wrote`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
