import { backup } from '../app/backup.js';
import { cdrShip } from '../app/cdr.js';
import type { AppContext, JobOptions } from '../app/context.js';
import { drill } from '../app/drill.js';
import { prune } from '../app/prune.js';
import { RefusedError } from '../errors.js';
import type { JobName } from '../format/job-record.js';
import { info } from '../report/reporter.js';

/**
 * The daemon's jobs: the same use cases the CLI commands call, with the defaults a scheduled run
 * uses (a nightly snapshot, the shipped policies, the newest snapshot for a drill), waiting for
 * the host's lock.
 */
export const DAEMON_JOBS: Record<JobName, (ctx: AppContext, job: JobOptions) => Promise<void>> = {
  backup: async (ctx, job) => {
    const { manifest } = await backup(ctx, { kind: 'nightly', ...job });
    const s = manifest.summary;
    info(ctx.reporter, `snapshot ${manifest.id} stored`, { bytes: s.storedBytes, lockMs: s.lockMs, durationMs: s.durationMs });
  },
  prune: async (ctx, job) => {
    const { plan, result } = await prune(ctx, job);
    info(ctx.reporter, `prune: ${result?.removed.length ?? 0} snapshot(s) removed, ${plan.snapshots.filter((s) => s.action === 'keep').length} kept, ${result?.locked.length ?? 0} locked`);
  },
  'cdr-ship': async (ctx, job) => {
    const { result } = await cdrShip(ctx, job);
    info(ctx.reporter, `cdr ship: ${result.shipped.length} file(s) shipped, ${result.damaged.length} damaged shipped aside`, { bytes: result.bytes });
  },
  drill: async (ctx, job) => {
    const identityFile = ctx.config.drill.identityFile;
    if (!identityFile) throw new RefusedError('a scheduled drill needs drill.identity_file in the config');
    const report = await drill(ctx, { latest: true, identityFile, ...job });
    info(ctx.reporter, `drill of snapshot ${report.snapshot} passed`, { tables: report.tablesChecked });
  },
};
