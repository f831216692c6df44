import path from 'node:path';
import { restoreCdrFiles, type CdrRestoreResult } from '../cdr/restore.js';
import { shipCdrFiles, type CdrShipResult } from '../cdr/ship.js';
import { loadIdentityFile } from '../crypto/identity.js';
import { CoverageGapError, RefusedError } from '../errors.js';
import { selectCdrRestore } from '../cdr/plan.js';
import { warn } from '../report/reporter.js';
import { runJob } from '../service/job.js';
import { ownNode, type AppContext, type JobOptions } from './context.js';

export interface CdrShipRequest extends JobOptions {
  dryRun?: boolean;
  /** Ship the current content of files changed after they were shipped. */
  acceptChanged?: boolean;
  /** Where the local record lives (default cdr.state_dir). */
  stateDir?: string;
}

/**
 * `ngcp-backup cdr ship` and the daemon's CDR shipping: a dry run reads and changes nothing (no
 * lock); a real run ships under the host's lock and is recorded.
 */
export async function cdrShip(
  ctx: AppContext,
  request: CdrShipRequest,
  present: (outcome: { result: CdrShipResult; exportDir: string }) => void = () => {},
): Promise<{ result: CdrShipResult; exportDir: string }> {
  const { config } = ctx;
  const cdr = config.cdr;
  await ctx.storage.check();
  if (!cdr.enabled) throw new RefusedError('CDR shipping is off in the config (set cdr.enabled: true)');
  const exportDir = path.join(config.node.root, cdr.path);
  const node = await ownNode(config);
  const progress = ctx.progress({ label: 'cdr ship' });
  const ship = (reporter = ctx.reporter) =>
    shipCdrFiles({
      progress,
      storage: ctx.storage,
      recipients: config.encryption.recipients,
      compression: config.compression,
      signal: ctx.signal,
      node,
      exportDir,
      stateDir: request.stateDir ?? cdr.stateDir,
      dryRun: request.dryRun ?? false,
      acceptChanged: request.acceptChanged ?? false,
      reporter,
      policy: { retentionYears: cdr.retentionYears, removeLocalAfterDays: cdr.removeLocalAfterDays },
    });
  // Files changed after they were shipped are a gap in the backup: said after everything else is
  // done and shown, and the run fails (exit 9), so that monitoring sees it.
  const finish = (result: CdrShipResult) => {
    progress.end();
    present({ result, exportDir });
    if (result.changed.length > 0) {
      throw new CoverageGapError(
        `${result.changed.length} CDR export file(s) changed after they were shipped, so the repository does not hold them as they are now: ${result.changed.slice(0, 5).join(', ')}${result.changed.length > 5 ? ', ...' : ''} (an export file must not change once written: check them; cdr ship --accept-changed ships their current content beside what was shipped before)`,
      );
    }
    return { result, exportDir };
  };
  if (request.dryRun) return finish(await ship().finally(() => progress.end()));
  return runJob(ctx, { command: request.command ?? 'cdr ship', record: 'cdr-ship', lockWait: request.lockWait }, async (reporter) => {
    const result = await ship(reporter).finally(() => progress.end());
    return { value: finish(result), outcome: { bytes: result.bytes } };
  });
}

export interface CdrRestoreRequest extends JobOptions {
  identityFile: string;
  /** Inclusive UTC days YYYY-MM-DD. */
  from?: string;
  to?: string;
  /** Files of another node (a replacement machine). */
  node?: string;
  stateDir?: string;
  dryRun?: boolean;
}

/** Checks the dates before anything else (a UsageError). */
export function checkCdrRestoreDates(from?: string, to?: string): void {
  selectCdrRestore([], from, to);
}

/** `ngcp-backup cdr restore`: shipped files back into the export tree; a real run holds the lock. */
export async function cdrRestore(ctx: AppContext, request: CdrRestoreRequest): Promise<CdrRestoreResult> {
  checkCdrRestoreDates(request.from, request.to);
  const { config } = ctx;
  await ctx.storage.check();
  const node = request.node ?? (await ownNode(config));
  const { identities, warning } = await loadIdentityFile(request.identityFile);
  if (warning) warn(ctx.reporter, warning);
  const restore = (reporter = ctx.reporter) =>
    restoreCdrFiles({
      storage: ctx.storage,
      node,
      exportDir: path.join(config.node.root, config.cdr.path),
      stateDir: request.stateDir ?? config.cdr.stateDir,
      identities,
      from: request.from,
      to: request.to,
      dryRun: request.dryRun ?? false,
      reporter,
      signal: ctx.signal,
    });
  if (request.dryRun) return restore();
  return runJob(ctx, { command: request.command ?? 'cdr restore', lockWait: request.lockWait }, async (reporter) => ({ value: await restore(reporter) }));
}
