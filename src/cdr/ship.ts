/**
 * `ngcp-backup cdr ship`: every complete CDR export file, once, compressed and encrypted, under
 * cdr/<node>/<path>.zst.age; damaged files (MD5 trailer does not match) aside under
 * cdr/<node>/damaged/<path>.zst.age, reported and never removed. Plan (the tree and the record,
 * planCdrShip), then either preview it (a dry run: reads, changes nothing) or apply it.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { CdrRecordEntry, CdrTreeFile } from '../format/cdr-index.js';
import { cdrObjectKey } from '../format/layout.js';
import { storeSealed, type SealOptions } from '../repository/sealed.js';
import type { Progress } from '../report/progress.js';
import { info, warn, type Reporter } from '../report/reporter.js';
import { forEachConcurrently } from '../util/pool.js';
import { planCdrShipping, type CdrPolicy, type CdrShippingPlan } from './plan.js';
import { applyCdrPolicy, checkCdrPolicy, describeCdrPolicy, type CdrPolicyResult } from './policy.js';
import { CdrRecord, DEFAULT_STATE_DIR } from './record.js';
import { cdrFileMd5Ok } from './trailer.js';
import { listCdrTree } from './tree.js';

export interface CdrShipOptions extends SealOptions {
  node: string;
  /** Host path of the export tree (node.root + cdr.path). */
  exportDir: string;
  /** Host directory of the local record (cdr.state_dir). */
  stateDir?: string;
  dryRun?: boolean;
  /** Ship the current content of files that changed after they were shipped (beside the earlier objects). */
  acceptChanged?: boolean;
  reporter: Reporter;
  concurrency?: number;
  /** Index objects are written every this many shipped files, so an interrupted run loses little. */
  checkpointEvery?: number;
  now?: () => Date;
  /** Applied after shipping, on the same listing. */
  policy?: CdrPolicy;
  /** Bytes of the export files shipped in this run against those to ship. */
  progress?: Progress;
}

export interface CdrShipResult {
  dryRun: boolean;
  files: number;
  shipped: string[];
  /** Damaged files found in this run (shipped aside unless dry-run). */
  damaged: string[];
  /** Damaged files shipped aside by an earlier run and still in the tree. */
  damagedKnown: string[];
  inProgress: string[];
  alreadyShipped: number;
  /** Shipped files whose content changed since: a gap in the backup (the run fails, exit 9). */
  changed: string[];
  /** Files that changed while they were read: left for the next run. */
  unstable: string[];
  bytes: number;
  storedBytes: number;
  seconds: number;
  policy?: CdrPolicyResult;
}

/** What a run works on: the options, the record, the tree as listed, and the plan made from them. */
export interface CdrShipWork {
  options: CdrShipOptions;
  record: CdrRecord;
  tree: CdrTreeFile[];
  plan: CdrShippingPlan;
  started: number;
}

/** The one entry point: plan, then preview (dry run) or apply. */
export async function shipCdrFiles(options: CdrShipOptions): Promise<CdrShipResult> {
  const work = await planCdrShip(options);
  return options.dryRun ? previewCdrShip(work) : applyCdrShip(work);
}

export async function planCdrShip(options: CdrShipOptions): Promise<CdrShipWork> {
  const started = performance.now();
  const record = await CdrRecord.load(options.storage, options.node, options.stateDir ?? DEFAULT_STATE_DIR, { onStale: (why) => warn(options.reporter, why) });
  const tree = await listCdrTree(options.exportDir);
  const plan = planCdrShipping(tree, record.entries);
  return { options, record, tree, plan, started };
}

/** Reads every file the plan would ship (to tell the damaged ones) and checks the policy; changes nothing. */
export async function previewCdrShip(work: CdrShipWork): Promise<CdrShipResult> {
  const { options } = work;
  const result = emptyResult(work, true);
  await forEachConcurrently([...work.plan.ship, ...work.plan.damaged], options.concurrency ?? 4, async (file) => {
    options.signal?.throwIfAborted();
    const content = await readStable(options, file, result);
    if (!content) return;
    const md5Ok = cdrFileMd5Ok(content);
    if (!md5Ok) warn(options.reporter, 'damaged CDR export file (MD5 trailer does not match): would be shipped aside, never removed', { path: file.path });
    (md5Ok ? result.shipped : result.damaged).push(file.path);
    result.bytes += content.length;
  });
  for (const c of work.plan.changed) {
    const content = await readStable(options, c.file, result);
    if (content && sameContent(content, c.recorded)) result.alreadyShipped++;
    else if (content) changedAfterShipping(work, c.file, c.recorded, result);
  }
  if (hasPolicy(options.policy)) {
    result.policy = describeCdrPolicy(await checkCdrPolicy(policyOptions(work), work.record, work.tree));
  }
  return finish(work, result, 'CDR shipping plan (dry run)');
}

/** Ships what the plan says, checkpointing the record, then applies the policy on the same listing. */
export async function applyCdrShip(work: CdrShipWork): Promise<CdrShipResult> {
  const { options, record } = work;
  const now = options.now ?? (() => new Date());
  const result = emptyResult(work, false);
  const pending: CdrRecordEntry[] = [];
  const flush = async (): Promise<void> => {
    if (pending.length > 0) await record.commit(pending.splice(0), now());
  };
  const todo = [...work.plan.ship, ...work.plan.damaged];
  const todoBytes = todo.reduce((n, f) => n + f.size, 0);
  let doneBytes = 0;
  // A recorded file whose size or mtime changed: the same content (its mtime touched) is still
  // shipped, and the record learns its new stat; other content is a gap in the backup.
  for (const c of work.plan.changed) {
    const content = await readStable(options, c.file, result);
    if (content && sameContent(content, c.recorded)) {
      pending.push({ ...c.recorded, size: c.file.size, mtimeMs: c.file.mtimeMs, mode: c.file.mode, uid: c.file.uid, gid: c.file.gid });
      result.alreadyShipped++;
    } else if (content && options.acceptChanged) {
      warn(options.reporter, 'CDR export file changed after it was shipped: its current content is shipped beside the earlier one (--accept-changed)', { path: c.file.path });
      pending.push(await shipContent(options, c.file, content, result, sha256(content).slice(0, 12)));
    } else if (content) changedAfterShipping(work, c.file, c.recorded, result);
  }
  try {
    await forEachConcurrently(todo, options.concurrency ?? 4, async (file) => {
      options.signal?.throwIfAborted();
      const entry = await shipOne(options, file, result);
      options.progress?.update((doneBytes += file.size), todoBytes);
      if (entry) {
        pending.push(entry);
        if (pending.length >= (options.checkpointEvery ?? 500)) await flush();
      }
    });
  } finally {
    await flush();
  }
  if (hasPolicy(options.policy)) {
    const p = policyOptions(work);
    result.policy = await applyCdrPolicy(p, record, await checkCdrPolicy(p, record, work.tree));
  }
  return finish(work, result, 'CDR files shipped');
}

function emptyResult(work: CdrShipWork, dryRun: boolean): CdrShipResult {
  const { plan, record } = work;
  return {
    dryRun,
    files: work.tree.length,
    shipped: [],
    damaged: [],
    damagedKnown: plan.alreadyShipped.filter((f) => record.entries.get(f.path)?.md5Ok === false).map((f) => f.path),
    inProgress: plan.skipInProgress.map((f) => f.path),
    alreadyShipped: plan.alreadyShipped.length,
    changed: [],
    unstable: [],
    bytes: 0,
    storedBytes: 0,
    seconds: 0,
  };
}

function finish(work: CdrShipWork, result: CdrShipResult, what: string): CdrShipResult {
  result.seconds = (performance.now() - work.started) / 1000;
  info(work.options.reporter, what, {
    files: result.files,
    shipped: result.shipped.length,
    damaged: result.damaged.length,
    inProgress: result.inProgress.length,
    alreadyShipped: result.alreadyShipped,
    changed: result.changed.length,
    seconds: Number(result.seconds.toFixed(2)),
  });
  return result;
}

function hasPolicy(policy: CdrPolicy | undefined): policy is CdrPolicy {
  return policy !== undefined && (policy.removeLocalAfterDays !== undefined || policy.retentionYears !== undefined);
}

function policyOptions(work: CdrShipWork) {
  const o = work.options;
  return { storage: o.storage, exportDir: o.exportDir, reporter: o.reporter, signal: o.signal, now: (o.now ?? (() => new Date()))(), policy: o.policy! };
}

function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

function sameContent(content: Buffer, recorded: CdrRecordEntry): boolean {
  return recorded.contentSha256 !== undefined && content.length === recorded.size && sha256(content) === recorded.contentSha256;
}

/** A shipped file whose content changed since: not in the repository as it is now (a gap), never removed. */
function changedAfterShipping(work: CdrShipWork, file: CdrTreeFile, recorded: CdrRecordEntry, result: CdrShipResult): void {
  result.changed.push(file.path);
  warn(work.options.reporter, 'CDR export file changed after it was shipped: not shipped again, never removed; the repository does not hold it as it is now', {
    path: file.path,
    size: file.size,
    shippedSize: recorded.size,
  });
}

/** The file's content, or undefined when it is gone or changed while it was read (left for the next run). */
async function readStable(options: CdrShipOptions, file: CdrTreeFile, result: CdrShipResult): Promise<Buffer | undefined> {
  const full = path.join(options.exportDir, file.path);
  let content: Buffer;
  try {
    content = await readFile(full);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const after = await stat(full);
  if (content.length !== file.size || after.size !== file.size || Math.trunc(after.mtimeMs) !== file.mtimeMs) {
    result.unstable.push(file.path);
    warn(options.reporter, 'CDR export file changed while it was read: left for the next run', { path: file.path });
    return undefined;
  }
  return content;
}

async function shipOne(options: CdrShipOptions, file: CdrTreeFile, result: CdrShipResult): Promise<CdrRecordEntry | undefined> {
  const content = await readStable(options, file, result);
  return content && shipContent(options, file, content, result);
}

async function shipContent(options: CdrShipOptions, file: CdrTreeFile, content: Buffer, result: CdrShipResult, version?: string): Promise<CdrRecordEntry> {
  const md5Ok = cdrFileMd5Ok(content);
  if (!md5Ok) warn(options.reporter, 'damaged CDR export file (MD5 trailer does not match): shipped aside under damaged/, never removed', { path: file.path });
  const key = cdrObjectKey(options.node, file.path, !md5Ok, version);
  const sealed = await storeSealed(options, key, Readable.from([content]));
  result.storedBytes += sealed.size;
  (md5Ok ? result.shipped : result.damaged).push(file.path);
  result.bytes += content.length;
  return {
    path: file.path,
    size: file.size,
    mtimeMs: file.mtimeMs,
    mode: file.mode,
    uid: file.uid,
    gid: file.gid,
    md5Ok,
    key,
    storedSize: sealed.size,
    sha256: sealed.sha256,
    contentSha256: sha256(content),
    shippedAt: (options.now ?? (() => new Date()))().toISOString(),
  };
}
