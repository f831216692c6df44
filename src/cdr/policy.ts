/**
 * The CDR policy's actions (the pure rules are in plan.ts): a local file is removed only when,
 * in this run, its stored object was read back with the size and sha256 the record holds, and
 * the file on disk still has the recorded size and mtime. Damaged files, files being written,
 * files not in the record and changed files are never removed. checkCdrPolicy reads and decides
 * (a dry run stops there); applyCdrPolicy removes what the check allows.
 */
import { lstat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { CdrRecordEntry, CdrTreeFile } from '../format/cdr-index.js';
import { checkStored } from '../repository/sealed.js';
import type { Storage } from '../repository/storage.js';
import { info, warn, type Reporter } from '../report/reporter.js';
import { planLocalRemoval, planRepositoryPrune, type CdrPolicy } from './plan.js';
import type { CdrRecord } from './record.js';

export interface CdrPolicyOptions {
  storage: Storage;
  exportDir: string;
  reporter: Reporter;
  signal?: AbortSignal;
  now?: Date;
  policy: CdrPolicy;
}

export interface CdrPolicyResult {
  removedLocal: string[];
  /** Due for removal but not verified in the repository: kept. */
  keptUnverified: string[];
  pruned: string[];
}

/** What the policy may do now: local copies verified in the repository, objects past retention. */
export interface CdrPolicyCheck {
  now: Date;
  removable: Array<{ file: CdrTreeFile; entry: CdrRecordEntry }>;
  keptUnverified: string[];
  prune: CdrRecordEntry[];
}

/** Reads the stored object back: undefined when it has the recorded size and sha256, else why not. */
export async function verifyCdrObject(storage: Storage, e: CdrRecordEntry, signal?: AbortSignal): Promise<string | undefined> {
  const problem = await checkStored(storage, e.key, { size: e.storedSize, sha256: e.sha256 }, { whose: 'the record', signal });
  return problem === 'missing' ? 'missing from the repository' : problem;
}

/** Changes nothing: verifies the objects of the local copies due for removal and lists what is past retention. */
export async function checkCdrPolicy(options: CdrPolicyOptions, record: CdrRecord, tree: CdrTreeFile[]): Promise<CdrPolicyCheck> {
  const now = options.now ?? new Date();
  const check: CdrPolicyCheck = { now, removable: [], keptUnverified: [], prune: planRepositoryPrune(record.entries, options.policy.retentionYears, now) };
  for (const { file, entry } of planLocalRemoval(tree, record.entries, options.policy.removeLocalAfterDays, now)) {
    options.signal?.throwIfAborted();
    const problem = await verifyCdrObject(options.storage, entry, options.signal);
    if (problem) {
      check.keptUnverified.push(file.path);
      warn(options.reporter, 'shipped CDR export file does not verify in the repository: local copy kept', { path: file.path, key: entry.key, problem });
      continue;
    }
    if (await unchanged(path.join(options.exportDir, file.path), entry)) check.removable.push({ file, entry });
  }
  return check;
}

export function describeCdrPolicy(check: CdrPolicyCheck): CdrPolicyResult {
  return { removedLocal: check.removable.map((r) => r.file.path), keptUnverified: check.keptUnverified, pruned: check.prune.map((e) => e.path) };
}

/** Removes what the check allows, and records it. */
export async function applyCdrPolicy(options: CdrPolicyOptions, record: CdrRecord, check: CdrPolicyCheck): Promise<CdrPolicyResult> {
  const stamp = check.now.toISOString();
  const updates: CdrRecordEntry[] = [];
  const removed: typeof check.removable = [];
  for (const r of check.removable) {
    options.signal?.throwIfAborted();
    // Looked at again right before: a file that changed since the check stays.
    if (!(await unchanged(path.join(options.exportDir, r.file.path), r.entry))) continue;
    await unlink(path.join(options.exportDir, r.file.path));
    updates.push({ ...r.entry, verifiedAt: stamp, removedAt: stamp });
    removed.push(r);
  }
  for (const entry of check.prune) {
    options.signal?.throwIfAborted();
    await options.storage.remove(entry.key);
    updates.push({ ...entry, prunedAt: stamp });
  }
  await record.commit(updates, check.now);
  const result = describeCdrPolicy({ ...check, removable: removed });
  if (result.removedLocal.length || result.pruned.length || result.keptUnverified.length) {
    info(options.reporter, 'CDR policy applied', { removedLocal: result.removedLocal.length, keptUnverified: result.keptUnverified.length, pruned: result.pruned.length });
  }
  return result;
}

/** The local file is still the one that was shipped (same size and mtime). */
async function unchanged(file: string, entry: CdrRecordEntry): Promise<boolean> {
  const st = await lstat(file).catch(() => undefined);
  return st !== undefined && st.isFile() && st.size === entry.size && Math.trunc(st.mtimeMs) === Math.trunc(entry.mtimeMs);
}
