import { NgcpBackupError } from '../errors.js';
import { DEFAULT_POLICIES_FILE, loadPolicies } from '../retention/policy.js';
import { applyPrune, planPrune, type PrunePlan, type PruneResult } from '../retention/prune.js';
import { runJob } from '../service/job.js';
import { ownNode, type AppContext, type JobOptions } from './context.js';

export interface PruneRequest extends JobOptions {
  /** Prune another node's snapshots; undefined: this node's (or every node's with allNodes). */
  node?: string;
  allNodes?: boolean;
  /** The retention policies (default the shipped policies/retention.yml). */
  policiesFile?: string;
  dryRun?: boolean;
}

export interface PruneOutcome {
  dryRun: boolean;
  policiesSource: string;
  plan: PrunePlan;
  /** What was removed; null for a dry run. */
  result: PruneResult | null;
}

/**
 * `ngcp-backup prune` and the daemon's prune after a backup: plan, then apply. A dry run changes
 * nothing and needs no lock; a real one plans under the lock, so that a backup finishing
 * meanwhile cannot make the plan stale. `present` sees the outcome before a failure to remove
 * a snapshot is thrown (so the CLI prints the plan either way).
 */
export async function prune(ctx: AppContext, request: PruneRequest, present: (outcome: PruneOutcome) => void = () => {}): Promise<PruneOutcome> {
  const policies = await loadPolicies(request.policiesFile ?? DEFAULT_POLICIES_FILE);
  await ctx.storage.check();
  const node = request.allNodes ? undefined : (request.node ?? (await ownNode(ctx.config)));
  const dryRun = request.dryRun ?? false;
  const run = async (): Promise<PruneOutcome> => {
    const plan = await planPrune(ctx.storage, node, policies, (ctx.now ?? (() => new Date()))());
    const result = dryRun ? null : await applyPrune(ctx.storage, plan, { signal: ctx.signal });
    const outcome = { dryRun, policiesSource: policies.source, plan, result };
    present(outcome);
    if (result && result.failed.length > 0) {
      throw new NgcpBackupError(`prune could not remove ${result.failed.length} snapshot(s): ${result.failed.map((f) => `${f.id}: ${f.error}`).slice(0, 5).join('; ')}`);
    }
    return outcome;
  };
  if (dryRun) return run();
  return runJob(ctx, { command: request.command ?? 'prune', record: 'prune', lockWait: request.lockWait }, async () => ({ value: await run() }));
}
