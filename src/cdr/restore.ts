/**
 * `ngcp-backup cdr restore`: brings shipped CDR export files back into the export tree, with their
 * content, mode, owner (when run as root) and mtime, so that the next `cdr ship` sees them as
 * already shipped. Files that are present are left alone; a present file with other content is
 * reported and never overwritten. Plan (planCdrRestore: what is in range and what is in the way),
 * then preview or apply.
 */
import { chown, lstat, mkdir, rename, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IntegrityError } from '../errors.js';
import type { CdrRecordEntry } from '../format/cdr-index.js';
import { checkStored, openSealed } from '../repository/sealed.js';
import type { Storage } from '../repository/storage.js';
import { info, warn, type Reporter } from '../report/reporter.js';
import { forEachConcurrently } from '../util/pool.js';
import { selectCdrRestore } from './plan.js';
import { CdrRecord, DEFAULT_STATE_DIR } from './record.js';
import { cdrFileMd5Ok } from './trailer.js';

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

export interface CdrRestorePlan {
  options: CdrRestoreOptions;
  selected: number;
  /** Not in the tree: to be restored. */
  absent: CdrRecordEntry[];
  present: number;
  conflicts: string[];
}

/** The one entry point: plan, then preview (dry run) or apply. */
export async function restoreCdrFiles(options: CdrRestoreOptions): Promise<CdrRestoreResult> {
  const plan = await planCdrRestore(options);
  return options.dryRun ? previewCdrRestore(plan) : applyCdrRestore(plan);
}

/** Reads the record (every index in the repository) and the tree; changes nothing. */
export async function planCdrRestore(options: CdrRestoreOptions): Promise<CdrRestorePlan> {
  const record = await CdrRecord.load(options.storage, options.node, options.stateDir ?? DEFAULT_STATE_DIR, { listIndexes: true });
  const selected = selectCdrRestore(record.entries.values(), options.from, options.to);
  const plan: CdrRestorePlan = { options, selected: selected.length, absent: [], present: 0, conflicts: [] };
  for (const e of selected) {
    const existing = await lstat(safeJoin(options.exportDir, e.path)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (!existing) plan.absent.push(e);
    else if (existing.isFile() && existing.size === e.size) plan.present++;
    else {
      plan.conflicts.push(e.path);
      warn(options.reporter, 'a different file is in the way of a restored CDR export file: left alone', { path: e.path, size: existing.size, shippedSize: e.size });
    }
  }
  return plan;
}

export function previewCdrRestore(plan: CdrRestorePlan): CdrRestoreResult {
  const result = resultOf(plan, true);
  result.restored = plan.absent.map((e) => e.path);
  result.bytes = plan.absent.reduce((n, e) => n + e.size, 0);
  report(plan, result);
  return result;
}

export async function applyCdrRestore(plan: CdrRestorePlan): Promise<CdrRestoreResult> {
  const { options } = plan;
  const result = resultOf(plan, false);
  const isRoot = process.getuid?.() === 0;
  await forEachConcurrently(plan.absent, options.concurrency ?? 4, async (e) => {
    options.signal?.throwIfAborted();
    const content = await fetchCdrObject(options.storage, e, options.identities, options.signal);
    if (!content) {
      result.missing.push(e.path);
      warn(options.reporter, 'shipped CDR export file is missing from the repository', { path: e.path, key: e.key });
      return;
    }
    const target = safeJoin(options.exportDir, e.path);
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
  });
  report(plan, result);
  return result;
}

function resultOf(plan: CdrRestorePlan, dryRun: boolean): CdrRestoreResult {
  return { dryRun, selected: plan.selected, restored: [], present: plan.present, conflicts: plan.conflicts, missing: [], bytes: 0 };
}

function report(plan: CdrRestorePlan, result: CdrRestoreResult): void {
  info(plan.options.reporter, result.dryRun ? 'CDR restore plan (dry run)' : 'CDR files restored', {
    selected: result.selected,
    restored: result.restored.length,
    present: result.present,
    conflicts: result.conflicts.length,
    missing: result.missing.length,
  });
}

/**
 * Downloads one shipped file, checks the stored bytes against the record (size, sha256), decrypts
 * and decompresses it, and checks the plaintext (size, MD5 trailer). Undefined when the object is
 * missing from the repository.
 */
export async function fetchCdrObject(storage: Storage, e: CdrRecordEntry, identities: string[], signal?: AbortSignal): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  const plain = new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c), done()) });
  // The stored bytes go through the check into the decryption; a failed check destroys both.
  const sealed = new PassThrough();
  const reading = pipeline(openSealed(sealed, identities, { compressed: true }), plain);
  reading.catch(() => {});
  const problem = await checkStored(storage, e.key, { size: e.storedSize, sha256: e.sha256 }, { whose: 'the record', sink: sealed, signal });
  if (problem === 'missing') return undefined;
  if (problem) throw new IntegrityError(`${e.key} is damaged: ${problem}`);
  await reading;
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
