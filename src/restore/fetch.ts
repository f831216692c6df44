import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open as openFile, readdir, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { text } from 'node:stream/consumers';
import { DiskFullError, IntegrityError, NgcpBackupError, ObjectNotFoundError, RefusedError } from '../errors.js';
import { parseDetails, type SnapshotDetails } from '../format/details.js';
import { snapshotPrefix } from '../format/layout.js';
import type { Manifest, ManifestObject } from '../format/manifest.js';
import { checkStored, isCompressed, openSealed } from '../repository/sealed.js';
import type { Storage } from '../repository/storage.js';
import type { Progress } from '../report/progress.js';
import { info, warn, type Reporter } from '../report/reporter.js';
import { createCountStream } from '../stream/count.js';
import { createHashStream } from '../stream/hash.js';
import { forEachConcurrently } from '../util/pool.js';
import { contentCheck } from './contents.js';

export interface FetchedSnapshot {
  /** Plaintext of an object, streamed from the verified local (encrypted) copy. */
  open(name: string): Promise<Readable>;
  details: SnapshotDetails;
  bytes: number;
  /** The private directory of the download in restore.work_dir. */
  dir: string;
  cleanup(): Promise<void>;
}

export interface FetchOptions {
  reporter: Reporter;
  signal?: AbortSignal;
  concurrency?: number;
  progress?: Progress;
}

/** Downloads in the work directory are named after the snapshot and the process that made them. */
const DOWNLOAD_PREFIX = 'ngcp-backup-restore-';

/**
 * The snapshot's details object, read into memory (a few KiB to a few MiB), checked against the
 * manifest and decrypted, before anything big is downloaded: a wrong identity is refused here
 * (exit 12) and the details are what the other objects are checked against. The details must be
 * this snapshot's (an object moved from another snapshot is refused).
 */
export async function fetchDetails(storage: Storage, manifest: Manifest, identities: string[], signal?: AbortSignal): Promise<SnapshotDetails> {
  const o = manifest.objects.find((x) => x.role === 'details');
  if (!o) throw new IntegrityError(`snapshot ${manifest.id} has no details object in its manifest`);
  const chunks: Buffer[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c), done()) });
  const problem = await checkStored(storage, snapshotPrefix(manifest.node, manifest.id) + o.name, o, { whose: 'the manifest', sink, signal });
  if (problem === 'missing') throw new IntegrityError(`object ${o.name} of snapshot ${manifest.id} is missing from the repository`);
  if (problem) throw new IntegrityError(`object ${o.name} of snapshot ${manifest.id} is damaged: ${problem}`);
  const plain = openSealed(readableOf(Buffer.concat(chunks)), identities, { compressed: isCompressed(o.name) });
  let json: string;
  try {
    json = await text(plain);
  } catch (error) {
    describe(error, o.name);
    throw error;
  }
  const details = parseDetails(json, `object ${o.name} of snapshot ${manifest.id}`);
  if (details.id !== manifest.id || details.node !== manifest.node) {
    throw new IntegrityError(`object ${o.name} of snapshot ${manifest.id} belongs to snapshot ${details.id} of node ${details.node}; refused before anything was changed`);
  }
  return details;
}

/**
 * Downloads the objects a restore needs into a private work directory (still encrypted: no
 * plaintext on disk), checks each one's size and sha256 against the manifest, then decrypts and
 * decompresses every one to the end without keeping anything, checking on the way that each
 * holds what its entry says (restore/contents.ts), so that a wrong identity, a damaged object
 * or one under another's name stops the restore before anything on the node changes.
 *
 * Runs under the host's lock: every other download in the work directory is then a dead run's
 * (kill -9, power loss), and is removed first.
 */
export async function fetchSnapshot(
  storage: Storage,
  manifest: Manifest,
  objects: ManifestObject[],
  identities: string[],
  workRoot: string,
  options: FetchOptions & { details?: SnapshotDetails },
): Promise<FetchedSnapshot> {
  const details = options.details ?? (await fetchDetails(storage, manifest, identities, options.signal));
  await mkdir(workRoot, { recursive: true, mode: 0o700 });
  await removeStaleDownloads(workRoot, options.reporter);
  const need = objects.reduce((n, o) => n + o.size, 0);
  const free = await freeBytes(workRoot);
  if (free < need * 1.05 + 64 * 1024 * 1024) {
    throw new RefusedError(`not enough free space in ${workRoot} for the download: ${mib(need)} needed, ${mib(free)} free (set restore.work_dir)`);
  }
  const dir = await mkdtemp(path.join(workRoot, `${DOWNLOAD_PREFIX}${manifest.id}-${process.pid}-`));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  const local = (name: string) => path.join(dir, encodeURIComponent(name));
  const prefix = snapshotPrefix(manifest.node, manifest.id);
  let downloaded = 0;
  try {
    await forEachConcurrently(objects, options.concurrency ?? 4, async (o) => {
      options.signal?.throwIfAborted();
      const file = local(o.name);
      let problem: string | undefined;
      let sink: Writable | undefined;
      try {
        // Opened first, so that a failure to create the file (a full disk) is this call's error.
        sink = (await openFile(file, 'wx', 0o600)).createWriteStream();
        problem = await checkStored(storage, prefix + o.name, o, {
          whose: 'the manifest',
          sink,
          signal: options.signal,
          onBytes: (n) => options.progress?.update((downloaded += n), need),
        });
      } catch (error) {
        throw diskFull(error, workRoot, file) ?? error;
      } finally {
        // A sink the pipeline never reached (the object missing) still closes its file.
        sink?.destroy();
      }
      if (problem === 'missing') throw new IntegrityError(`object ${o.name} of snapshot ${manifest.id} is missing from the repository`);
      if (problem) throw new IntegrityError(`object ${o.name} of snapshot ${manifest.id} is damaged: ${problem}`);
    });
    info(options.reporter, 'downloaded and checked every object', { objects: objects.length, bytes: need });

    const open = async (name: string): Promise<Readable> => {
      const out = openSealed(createReadStream(local(name)), identities, { compressed: isCompressed(name) });
      out.on('error', (error) => describe(error, name));
      return out;
    };
    await forEachConcurrently(objects, options.concurrency ?? 2, async (o) => {
      options.signal?.throwIfAborted();
      await pipeline(await open(o.name), contentCheck(o, details, `object ${o.name} of snapshot ${manifest.id}`));
    });
    info(options.reporter, 'every object decrypts and decompresses, and holds what its manifest entry names');
    return { open, details, bytes: need, dir, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * What a dry run proves without keeping anything: each object streamed from the repository
 * through sha256, decryption, decompression and the content checks, and discarded. Needs no
 * room in the work directory and reads each object once (a restore reads it twice: download,
 * then the decrypt pass from disk).
 */
export async function proveSnapshot(
  storage: Storage,
  manifest: Manifest,
  objects: ManifestObject[],
  identities: string[],
  details: SnapshotDetails,
  options: FetchOptions,
): Promise<{ bytes: number }> {
  const prefix = snapshotPrefix(manifest.node, manifest.id);
  const need = objects.reduce((n, o) => n + o.size, 0);
  let read = 0;
  await forEachConcurrently(objects, options.concurrency ?? 2, async (o) => {
    options.signal?.throwIfAborted();
    const key = prefix + o.name;
    let stored: Readable;
    try {
      stored = await storage.get(key);
    } catch (error) {
      if (error instanceof ObjectNotFoundError) throw new IntegrityError(`object ${o.name} of snapshot ${manifest.id} is missing from the repository`);
      throw error;
    }
    const hash = createHashStream();
    const plain = openSealed(hash, identities, { compressed: isCompressed(o.name) });
    const results = await Promise.allSettled([
      pipeline([stored, createCountStream((n) => options.progress?.update((read += n), need)), hash], { signal: options.signal }),
      pipeline(plain, contentCheck(o, details, `object ${o.name} of snapshot ${manifest.id}`), { signal: options.signal }),
    ]);
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length > 0) {
      options.signal?.throwIfAborted();
      // Damaged bytes fail the decryption first: read the object again to say what differs.
      const problem = await checkStored(storage, key, o, { whose: 'the manifest', signal: options.signal }).catch(() => undefined);
      if (problem) throw new IntegrityError(`object ${o.name} of snapshot ${manifest.id} is ${problem === 'missing' ? 'missing from the repository' : `damaged: ${problem}`}`);
      const error = failures.find((e) => e instanceof NgcpBackupError) ?? failures[0];
      describe(error, o.name);
      throw error;
    }
    if (hash.size !== o.size) throw new IntegrityError(`object ${o.name} of snapshot ${manifest.id} is damaged: ${hash.size} bytes stored, the manifest says ${o.size}`);
    if (hash.sha256 !== o.sha256) throw new IntegrityError(`object ${o.name} of snapshot ${manifest.id} is damaged: sha256 ${hash.sha256} does not match the manifest's ${o.sha256}`);
  });
  info(options.reporter, 'every object is intact, decrypts and decompresses, and holds what its manifest entry names', { objects: objects.length, bytes: need });
  return { bytes: need };
}

/**
 * Removes the downloads of runs that died (kill -9, power loss) from the work directory. Called
 * under the host's lock, which every run that downloads holds; a download whose process is still
 * alive is kept all the same.
 */
export async function removeStaleDownloads(workRoot: string, reporter: Reporter): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(workRoot);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names.filter((n) => n.startsWith(DOWNLOAD_PREFIX))) {
    const pid = Number(/-(\d+)-[^-]+$/.exec(name)?.[1]);
    if (pid === process.pid || (Number.isInteger(pid) && pid > 0 && alive(pid))) continue;
    const dir = path.join(workRoot, name);
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  if (removed.length) warn(reporter, `removed ${removed.length} download(s) that runs which are no longer running left in ${workRoot}: ${removed.join(', ')}`);
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

async function freeBytes(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

/** A full work directory, named: the write error itself names no path. */
function diskFull(error: unknown, workRoot: string, file: string): DiskFullError | undefined {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code !== 'ENOSPC' && code !== 'EDQUOT') return undefined;
  return new DiskFullError(
    `no space left in the work directory ${workRoot} (restore.work_dir) while downloading ${file}: the download was removed and nothing was changed; free some space or set restore.work_dir to a bigger disk`,
    { cause: error },
  );
}

function readableOf(data: Buffer): Readable {
  const p = new PassThrough();
  p.end(data);
  return p;
}

/** Names the object in a key or integrity error, so the operator knows which one. */
function describe(error: unknown, name: string): void {
  if (error instanceof NgcpBackupError && !error.message.startsWith(name)) error.message = `${name}: ${error.message}`;
}

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(0)} MiB`;
}
