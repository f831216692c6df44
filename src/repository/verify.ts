import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { IntegrityError, ObjectNotFoundError } from '../errors.js';
import type { Progress } from '../report/progress.js';
import { createHashStream } from '../stream/hash.js';
import { forEachConcurrently } from '../util/pool.js';
import { snapshotPrefix } from '../format/layout.js';
import type { Manifest } from '../format/manifest.js';
import type { Storage } from './storage.js';

export interface VerifyResult {
  objects: number;
  bytes: number;
  seconds: number;
  problems: string[];
}

/**
 * Checks every object a manifest lists: present, same size, same sha256 of the stored bytes.
 * Needs nothing but read access (no key): this is what proves a backup is intact at rest.
 */
export async function verifySnapshot(storage: Storage, manifest: Manifest, options: { concurrency?: number; signal?: AbortSignal; progress?: Progress } = {}): Promise<VerifyResult> {
  const prefix = snapshotPrefix(manifest.node, manifest.id);
  const problems: string[] = [];
  const t0 = performance.now();
  let bytes = 0;
  let read = 0;
  const total = manifest.objects.reduce((n, o) => n + o.size, 0);
  await forEachConcurrently(manifest.objects, options.concurrency ?? 4, async (o) => {
    options.signal?.throwIfAborted();
    try {
      const hash = createHashStream();
      await pipeline(await storage.get(prefix + o.name), hash, new Writable({ write: (c: Buffer, _e, done) => (options.progress?.update((read += c.length), total), done()) }), { signal: options.signal });
      bytes += hash.size;
      if (hash.size !== o.size) problems.push(`${o.name}: ${hash.size} bytes stored, manifest says ${o.size}`);
      else if (hash.sha256 !== o.sha256) problems.push(`${o.name}: sha256 ${hash.sha256} does not match the manifest's ${o.sha256}`);
    } catch (error) {
      if (error instanceof ObjectNotFoundError) problems.push(`${o.name}: missing`);
      else throw error;
    }
  });
  return { objects: manifest.objects.length, bytes, seconds: (performance.now() - t0) / 1000, problems: problems.sort() };
}

export function assertVerified(manifest: Manifest, result: VerifyResult): void {
  if (result.problems.length === 0) return;
  const shown = result.problems.slice(0, 10).join('; ');
  const more = result.problems.length > 10 ? ` (and ${result.problems.length - 10} more)` : '';
  throw new IntegrityError(`snapshot ${manifest.id} is damaged: ${result.problems.length} of ${result.objects} objects fail: ${shown}${more}`);
}
