/**
 * `ngcp-backup cdr ship`: every complete CDR export file, once, compressed and encrypted, under
 * cdr/<node>/<path>.zst.age; damaged files (MD5 trailer does not match) aside under
 * cdr/<node>/damaged/<path>.zst.age, reported and never removed.
 */
import { readFile, stat } from 'node:fs/promises';
import { forEachConcurrently } from '../util/pool.js';
import path from 'node:path';
import { Readable } from 'node:stream';
import { storeSealed, type SealOptions } from '../repository/sealed.js';
import type { Progress } from '../report/progress.js';
import { info, warn, type Reporter } from '../report/reporter.js';
import { cdrFileMd5Ok } from './trailer.js';
import { cdrObjectKey, planCdrShipping, type CdrTreeFile } from './plan.js';
import { CdrRecord, DEFAULT_STATE_DIR, lockCdr, type CdrRecordEntry } from './record.js';
import { listCdrTree } from './tree.js';
import { applyCdrPolicy, type CdrPolicy, type CdrPolicyResult } from './policy.js';

export interface CdrShipOptions extends SealOptions {
  node: string;
  /** Host path of the export tree (node.root + cdr.path). */
  exportDir: string;
  /** Host directory of the local record (cdr.state_dir). */
  stateDir?: string;
  dryRun?: boolean;
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
  changed: string[];
  /** Files that changed while they were read: left for the next run. */
  unstable: string[];
  bytes: number;
  storedBytes: number;
  seconds: number;
  policy?: CdrPolicyResult;
}

export async function shipCdrFiles(options: CdrShipOptions): Promise<CdrShipResult> {
  const t0 = performance.now();
  const now = options.now ?? (() => new Date());
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  const unlock = options.dryRun ? async () => {} : await lockCdr(stateDir, options.node);
  try {
    const record = await CdrRecord.load(options.storage, options.node, stateDir);
    const tree = await listCdrTree(options.exportDir);
    const plan = planCdrShipping(tree, record.entries);
    const result: CdrShipResult = {
      dryRun: options.dryRun ?? false,
      files: tree.length,
      shipped: [],
      damaged: [],
      damagedKnown: plan.alreadyShipped.filter((f) => record.entries.get(f.path)?.md5Ok === false).map((f) => f.path),
      inProgress: plan.skipInProgress.map((f) => f.path),
      alreadyShipped: plan.alreadyShipped.length,
      changed: plan.changed.map((c) => c.file.path),
      unstable: [],
      bytes: 0,
      storedBytes: 0,
      seconds: 0,
    };
    for (const c of plan.changed) {
      warn(options.reporter, 'CDR export file changed after it was shipped: not shipped again, never removed; check it', {
        path: c.file.path,
        size: c.file.size,
        shippedSize: c.recorded.size,
      });
    }
    const pending: CdrRecordEntry[] = [];
    const flush = async (): Promise<void> => {
      if (pending.length > 0) await record.commit(pending.splice(0), now());
    };
    const todo = [...plan.ship, ...plan.damaged];
    const todoBytes = todo.reduce((n, f) => n + f.size, 0);
    let doneBytes = 0;
    const run = async (file: (typeof todo)[number]): Promise<void> => {
      options.signal?.throwIfAborted();
      const entry = await shipOne(options, file, result);
      options.progress?.update((doneBytes += file.size), todoBytes);
      if (entry) {
        pending.push(entry);
        if (pending.length >= (options.checkpointEvery ?? 500)) await flush();
      }
    };
    try {
      await forEachConcurrently(todo, options.concurrency ?? 4, run);
    } finally {
      if (!options.dryRun) await flush();
    }
    if (options.policy && (options.policy.removeLocalAfterDays !== undefined || options.policy.retentionYears !== undefined)) {
      result.policy = await applyCdrPolicy({ ...options, now: now(), policy: options.policy }, record, tree);
    }
    result.seconds = (performance.now() - t0) / 1000;
    info(options.reporter, options.dryRun ? 'CDR shipping plan (dry run)' : 'CDR files shipped', {
      files: result.files,
      shipped: result.shipped.length,
      damaged: result.damaged.length,
      inProgress: result.inProgress.length,
      alreadyShipped: result.alreadyShipped,
      changed: result.changed.length,
      seconds: Number(result.seconds.toFixed(2)),
    });
    return result;
  } finally {
    await unlock();
  }
}

async function shipOne(options: CdrShipOptions, file: CdrTreeFile, result: CdrShipResult): Promise<CdrRecordEntry | undefined> {
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
  const md5Ok = cdrFileMd5Ok(content);
  if (!md5Ok) {
    warn(options.reporter, options.dryRun
      ? 'damaged CDR export file (MD5 trailer does not match): would be shipped aside, never removed'
      : 'damaged CDR export file (MD5 trailer does not match): shipped aside under damaged/, never removed', { path: file.path });
  }
  const done = (): void => {
    (md5Ok ? result.shipped : result.damaged).push(file.path);
    result.bytes += content.length;
  };
  if (options.dryRun) {
    done();
    return undefined;
  }
  const key = cdrObjectKey(options.node, file.path, !md5Ok);
  const sealed = await storeSealed(options, key, Readable.from([content]));
  result.storedBytes += sealed.size;
  done();
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
    shippedAt: (options.now ?? (() => new Date()))().toISOString(),
  };
}
