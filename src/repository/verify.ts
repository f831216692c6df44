import { IntegrityError } from '../errors.js';
import { snapshotPrefix } from '../format/layout.js';
import type { Manifest } from '../format/manifest.js';
import type { Progress } from '../report/progress.js';
import { forEachConcurrently } from '../util/pool.js';
import { checkStored } from './sealed.js';
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
    const problem = await checkStored(storage, prefix + o.name, o, {
      whose: 'the manifest',
      signal: options.signal,
      onBytes: (n) => {
        bytes += n;
        options.progress?.update((read += n), total);
      },
    });
    if (problem) problems.push(`${o.name}: ${problem}`);
  });
  return { objects: manifest.objects.length, bytes, seconds: (performance.now() - t0) / 1000, problems: problems.sort() };
}

export function assertVerified(manifest: Manifest, result: VerifyResult): void {
  if (result.problems.length === 0) return;
  const shown = result.problems.slice(0, 10).join('; ');
  const more = result.problems.length > 10 ? ` (and ${result.problems.length - 10} more)` : '';
  throw new IntegrityError(`snapshot ${manifest.id} is damaged: ${result.problems.length} of ${result.objects} objects fail: ${shown}${more}`);
}
