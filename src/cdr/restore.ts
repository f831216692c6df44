/**
 * `ngcp-backup cdr restore`: brings shipped CDR export files back into the export tree, with their
 * content, mode, owner (when run as root) and mtime, so that the next `cdr ship` sees them as
 * already shipped. Files that are present are left alone; a present file with other content is
 * reported and never overwritten.
 */
import { chown, lstat, mkdir, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { forEachConcurrently } from '../util/pool.js';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDecryptStream } from '../crypto/age.js';
import { IntegrityError, ObjectNotFoundError, UsageError } from '../errors.js';
import type { Storage } from '../repository/storage.js';
import { info, warn, type Reporter } from '../report/reporter.js';
import { createHashStream } from '../stream/hash.js';
import { createZstdDecompressStream } from '../stream/zstd.js';
import { cdrFileMd5Ok } from './trailer.js';
import { cdrFileDay } from './plan.js';
import { CdrRecord, DEFAULT_STATE_DIR, lockCdr, type CdrRecordEntry } from './record.js';

export interface CdrRestoreOptions {
  storage: Storage;
  node: string;
  exportDir: string;
  stateDir?: string;
  identities: string[];
  /** Inclusive UTC days YYYY-MM-DD of the export (from the file name). */
  from?: string;
  to?: string;
  dryRun?: boolean;
  reporter: Reporter;
  signal?: AbortSignal;
  concurrency?: number;
}

export interface CdrRestoreResult {
  dryRun: boolean;
  selected: number;
  restored: string[];
  present: number;
  /** Present with other content: not touched. */
  conflicts: string[];
  /** Recorded but gone from the repository (pruned by retention or lost). */
  missing: string[];
  bytes: number;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The entries a restore brings back: good files (not damaged, not pruned) whose day is in [from, to]. */
export function selectCdrRestore(entries: Iterable<CdrRecordEntry>, from?: string, to?: string): CdrRecordEntry[] {
  for (const [flag, v] of [['--from', from], ['--to', to]] as const) {
    if (v !== undefined && (!DAY.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`)))) throw new UsageError(`ngcp-backup cdr restore: ${flag} must be a date YYYY-MM-DD, got ${JSON.stringify(v)}`);
  }
  if (from && to && from > to) throw new UsageError(`ngcp-backup cdr restore: --from ${from} is after --to ${to}`);
  const out: CdrRecordEntry[] = [];
  for (const e of entries) {
    if (!e.md5Ok || e.prunedAt) continue;
    const day = cdrFileDay(e.path) ?? new Date(e.mtimeMs).toISOString().slice(0, 10);
    if (from && day < from) continue;
    if (to && day > to) continue;
    out.push(e);
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

export async function restoreCdrFiles(options: CdrRestoreOptions): Promise<CdrRestoreResult> {
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  const unlock = options.dryRun ? async () => {} : await lockCdr(stateDir, options.node);
  try {
    const record = await CdrRecord.load(options.storage, options.node, stateDir, { listIndexes: true });
    const selected = selectCdrRestore(record.entries.values(), options.from, options.to);
    const result: CdrRestoreResult = { dryRun: options.dryRun ?? false, selected: selected.length, restored: [], present: 0, conflicts: [], missing: [], bytes: 0 };
    const isRoot = process.getuid?.() === 0;
    const run = async (e: (typeof selected)[number]): Promise<void> => {
      options.signal?.throwIfAborted();
      const target = safeJoin(options.exportDir, e.path);
      const existing = await lstat(target).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (existing) {
        if (existing.isFile() && existing.size === e.size) result.present++;
        else {
          result.conflicts.push(e.path);
          warn(options.reporter, 'a different file is in the way of a restored CDR export file: left alone', { path: e.path, size: existing.size, shippedSize: e.size });
        }
        return;
      }
      if (options.dryRun) {
        result.restored.push(e.path);
        result.bytes += e.size;
        return;
      }
      let content: Buffer;
      try {
        content = await fetchCdrObject(options.storage, e, options.identities, options.signal);
      } catch (error) {
        if (error instanceof ObjectNotFoundError) {
          result.missing.push(e.path);
          warn(options.reporter, 'shipped CDR export file is missing from the repository', { path: e.path, key: e.key });
          return;
        }
        throw error;
      }
      await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
      const tmp = path.join(path.dirname(target), `.${path.basename(target)}.ngcp-backup-restore`);
      try {
        await writeFile(tmp, content, { mode: 0o644, flag: 'wx' });
        if (isRoot) await chown(tmp, e.uid, e.gid);
        await utimes(tmp, new Date(e.mtimeMs), new Date(e.mtimeMs));
        await rename(tmp, target);
      } catch (error) {
        await rm(tmp, { force: true });
        throw error;
      }
      result.restored.push(e.path);
      result.bytes += content.length;
    };
    await forEachConcurrently(selected, options.concurrency ?? 4, run);
    info(options.reporter, options.dryRun ? 'CDR restore plan (dry run)' : 'CDR files restored', {
      selected: result.selected,
      restored: result.restored.length,
      present: result.present,
      conflicts: result.conflicts.length,
      missing: result.missing.length,
    });
    return result;
  } finally {
    await unlock();
  }
}

/**
 * Downloads one shipped file, checks the stored bytes against the record (size, sha256), decrypts
 * and decompresses it, and checks the plaintext (size, MD5 trailer).
 */
export async function fetchCdrObject(storage: Storage, e: CdrRecordEntry, identities: string[], signal?: AbortSignal): Promise<Buffer> {
  const hash = createHashStream();
  const chunks: Buffer[] = [];
  await pipeline(
    await storage.get(e.key),
    hash,
    createDecryptStream(identities),
    createZstdDecompressStream(),
    new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c), done()) }),
    { signal },
  );
  if (hash.size !== e.storedSize || hash.sha256 !== e.sha256) {
    throw new IntegrityError(`${e.key} is damaged: ${hash.size} bytes with sha256 ${hash.sha256}, the record says ${e.storedSize} bytes with sha256 ${e.sha256}`);
  }
  const content = Buffer.concat(chunks);
  if (content.length !== e.size || (e.md5Ok && !cdrFileMd5Ok(content))) {
    throw new IntegrityError(`${e.key} decrypts to ${content.length} bytes that do not match the shipped file (${e.size} bytes, MD5 trailer ${e.md5Ok ? 'ok' : 'damaged'})`);
  }
  return content;
}

function safeJoin(dir: string, rel: string): string {
  const target = path.resolve(dir, rel);
  if (!target.startsWith(path.resolve(dir) + path.sep)) throw new IntegrityError(`recorded CDR path ${JSON.stringify(rel)} leaves the export tree`);
  return target;
}
