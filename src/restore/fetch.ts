import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { text } from 'node:stream/consumers';
import { IntegrityError, NgcpBackupError, RefusedError } from '../errors.js';
import { parseDetails, type SnapshotDetails } from '../format/details.js';
import { snapshotPrefix } from '../format/layout.js';
import type { Manifest, ManifestObject } from '../format/manifest.js';
import { checkStored, isCompressed, openSealed } from '../repository/sealed.js';
import type { Storage } from '../repository/storage.js';
import type { Progress } from '../report/progress.js';
import { info, type Reporter } from '../report/reporter.js';
import { forEachConcurrently } from '../util/pool.js';

export interface FetchedSnapshot {
  /** Plaintext of an object, streamed from the verified local (encrypted) copy. */
  open(name: string): Promise<Readable>;
  details: SnapshotDetails;
  bytes: number;
  cleanup(): Promise<void>;
}

/**
 * Downloads the objects a restore needs into a private work directory (still encrypted: no
 * plaintext on disk), checks each one's size and sha256 against the manifest, then decrypts and
 * decompresses every one to the end without keeping anything, so that a wrong identity or a
 * damaged object stops the restore before anything on the node changes.
 */
export async function fetchSnapshot(
  storage: Storage,
  manifest: Manifest,
  objects: ManifestObject[],
  identities: string[],
  workRoot: string,
  options: { reporter: Reporter; signal?: AbortSignal; concurrency?: number; progress?: Progress },
): Promise<FetchedSnapshot> {
  await mkdir(workRoot, { recursive: true, mode: 0o700 });
  const need = objects.reduce((n, o) => n + o.size, 0);
  const fs = await statfs(workRoot);
  const free = fs.bavail * fs.bsize;
  if (free < need * 1.05 + 64 * 1024 * 1024) {
    throw new RefusedError(`not enough free space in ${workRoot} for the download: ${mib(need)} needed, ${mib(free)} free (set restore.work_dir)`);
  }
  const dir = await mkdtemp(path.join(workRoot, `ngcp-backup-restore-${manifest.id}-`));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  const local = (name: string) => path.join(dir, encodeURIComponent(name));
  const prefix = snapshotPrefix(manifest.node, manifest.id);
  let downloaded = 0;
  try {
    await forEachConcurrently(objects, options.concurrency ?? 4, async (o) => {
      options.signal?.throwIfAborted();
      const problem = await checkStored(storage, prefix + o.name, o, {
        whose: 'the manifest',
        sink: createWriteStream(local(o.name), { mode: 0o600 }),
        signal: options.signal,
        onBytes: (n) => options.progress?.update((downloaded += n), need),
      });
      if (problem === 'missing') throw new IntegrityError(`object ${o.name} of snapshot ${manifest.id} is missing from the repository`);
      if (problem) throw new IntegrityError(`object ${o.name} of snapshot ${manifest.id} is damaged: ${problem}`);
    });
    info(options.reporter, 'downloaded and checked every object', { objects: objects.length, bytes: need });

    const open = async (name: string): Promise<Readable> => {
      const out = openSealed(createReadStream(local(name)), identities, { compressed: isCompressed(name) });
      out.on('error', (error) => describe(error, name));
      return out;
    };
    let details: SnapshotDetails | undefined;
    await forEachConcurrently(objects, options.concurrency ?? 2, async (o) => {
      options.signal?.throwIfAborted();
      if (o.role === 'details') details = parseDetails(await text(await open(o.name)), `object ${o.name} of snapshot ${manifest.id}`);
      else await pipeline(await open(o.name), new Writable({ write: (_c, _e, done) => done() }));
    });
    info(options.reporter, 'every object decrypts and decompresses');
    if (!details) throw new IntegrityError(`snapshot ${manifest.id} has no details object`);
    return { open, details, bytes: need, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** Names the object in a key or integrity error, so the operator knows which one. */
function describe(error: unknown, name: string): void {
  if (error instanceof NgcpBackupError && !error.message.startsWith(name)) error.message = `${name}: ${error.message}`;
}

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(0)} MiB`;
}
