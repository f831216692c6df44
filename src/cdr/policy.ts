/**
 * The CDR policy: how long shipped files stay in the repository (retention_years) and when local
 * copies that were shipped AND verified in the repository are removed (remove_local_after_days).
 * A local file is removed only when, in this run, its stored object was read back with the size
 * and sha256 the record holds, and the file on disk still has the recorded size and mtime.
 * Damaged files, files being written, files not in the record and changed files are never removed.
 */
import { lstat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ObjectNotFoundError } from '../errors.js';
import type { Storage } from '../repository/storage.js';
import { info, warn, type Reporter } from '../report/reporter.js';
import { createHashStream } from '../stream/hash.js';
import { cdrFileDay, isInProgress, type CdrTreeFile } from './plan.js';
import { CdrRecord, type CdrRecordEntry } from './record.js';

export interface CdrPolicy {
  /** Years a shipped file stays in the repository; undefined: forever. */
  retentionYears?: number;
  /** Days after its export day a shipped and verified local file is removed; undefined: never. */
  removeLocalAfterDays?: number;
}

const DAY_MS = 86_400_000;

function fileDayMs(path_: string, mtimeMs: number): number {
  const day = cdrFileDay(path_);
  return day ? Date.parse(`${day}T00:00:00Z`) : mtimeMs;
}

/** Pure: which local files the policy wants gone (before verification). */
export function planLocalRemoval(tree: Iterable<CdrTreeFile>, record: ReadonlyMap<string, CdrRecordEntry>, days: number | undefined, now: Date): Array<{ file: CdrTreeFile; entry: CdrRecordEntry }> {
  if (days === undefined) return [];
  const cutoff = now.getTime() - days * DAY_MS;
  const out: Array<{ file: CdrTreeFile; entry: CdrRecordEntry }> = [];
  for (const file of tree) {
    if (isInProgress(file.path)) continue;
    const entry = record.get(file.path);
    if (!entry || !entry.md5Ok || entry.prunedAt) continue;
    if (entry.size !== file.size || Math.trunc(entry.mtimeMs) !== Math.trunc(file.mtimeMs)) continue;
    // The export day (from the name) and the mtime must both be old enough.
    if (fileDayMs(file.path, file.mtimeMs) + DAY_MS > cutoff || file.mtimeMs > cutoff) continue;
    out.push({ file, entry });
  }
  return out;
}

/** Pure: which stored objects are past retention (damaged ones too). */
export function planRepositoryPrune(record: ReadonlyMap<string, CdrRecordEntry>, years: number | undefined, now: Date): CdrRecordEntry[] {
  if (years === undefined) return [];
  const cutoff = new Date(now);
  cutoff.setUTCFullYear(cutoff.getUTCFullYear() - years);
  return [...record.values()].filter((e) => !e.prunedAt && fileDayMs(e.path, e.mtimeMs) + DAY_MS <= cutoff.getTime());
}

/** Reads the stored object back: true when it has the recorded size and sha256. */
export async function verifyCdrObject(storage: Storage, e: CdrRecordEntry, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const hash = createHashStream();
    await pipeline(await storage.get(e.key), hash, new Writable({ write: (_c, _e, done) => done() }), { signal });
    if (hash.size !== e.storedSize) return `${hash.size} bytes stored, the record says ${e.storedSize}`;
    if (hash.sha256 !== e.sha256) return `sha256 ${hash.sha256} differs from the record's ${e.sha256}`;
    return undefined;
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return 'missing from the repository';
    throw error;
  }
}

export interface CdrPolicyResult {
  removedLocal: string[];
  /** Due for removal but not verified in the repository: kept. */
  keptUnverified: string[];
  pruned: string[];
}

export async function applyCdrPolicy(
  options: { storage: Storage; exportDir: string; reporter: Reporter; dryRun?: boolean; signal?: AbortSignal; now?: Date; policy: CdrPolicy },
  record: CdrRecord,
  tree: CdrTreeFile[],
): Promise<CdrPolicyResult> {
  const now = options.now ?? new Date();
  const result: CdrPolicyResult = { removedLocal: [], keptUnverified: [], pruned: [] };
  const updates: CdrRecordEntry[] = [];

  for (const { file, entry } of planLocalRemoval(tree, record.entries, options.policy.removeLocalAfterDays, now)) {
    options.signal?.throwIfAborted();
    const problem = await verifyCdrObject(options.storage, entry, options.signal);
    if (problem) {
      result.keptUnverified.push(file.path);
      warn(options.reporter, 'shipped CDR export file does not verify in the repository: local copy kept', { path: file.path, key: entry.key, problem });
      continue;
    }
    const full = path.join(options.exportDir, file.path);
    const st = await lstat(full).catch(() => undefined);
    if (!st || !st.isFile() || st.size !== entry.size || Math.trunc(st.mtimeMs) !== Math.trunc(entry.mtimeMs)) continue;
    if (!options.dryRun) {
      await unlink(full);
      updates.push({ ...entry, verifiedAt: now.toISOString(), removedAt: now.toISOString() });
    }
    result.removedLocal.push(file.path);
  }

  for (const entry of planRepositoryPrune(record.entries, options.policy.retentionYears, now)) {
    options.signal?.throwIfAborted();
    if (!options.dryRun) {
      await options.storage.remove(entry.key);
      updates.push({ ...entry, prunedAt: now.toISOString() });
    }
    result.pruned.push(entry.path);
  }
  if (!options.dryRun) await record.commit(updates, now);
  if (result.removedLocal.length || result.pruned.length || result.keptUnverified.length) {
    info(options.reporter, options.dryRun ? 'CDR policy (dry run)' : 'CDR policy applied', {
      removedLocal: result.removedLocal.length,
      keptUnverified: result.keptUnverified.length,
      pruned: result.pruned.length,
    });
  }
  return result;
}
