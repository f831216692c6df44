import { NgcpBackupError, UsageError } from '../errors.js';
import { readNodeName } from '../ngcp/facts.js';
import { applyPrune, planPrune, type PrunePlan, type PruneResult } from '../retention/prune.js';
import { DEFAULT_POLICIES_FILE, loadPolicies } from '../retention/policy.js';
import { runJob } from '../service/job.js';
import { parseFlags } from './args.js';
import { takeWaitFlag, WAIT_USAGE } from './lock-flags.js';
import { COMMON_OPTIONS, openContext, type CliEnv } from './context.js';

export const usage = `Usage: ngcp-backup prune [--dry-run] [--node NAME | --all-nodes] [--policies FILE] [--json] [--config FILE]
Removes the snapshots the retention policies no longer keep (default policies: ${DEFAULT_POLICIES_FILE}).
--dry-run prints the plan (every snapshot, keep or remove, and why) and changes nothing.
Never removes a node's newest snapshot nor its newest snapshot that passed a drill; skips
snapshots protected by S3 Object Lock and says so (exit 0). Each snapshot goes manifest first;
in a versioned bucket every version of its objects is deleted, so the space is freed.
${WAIT_USAGE}`;

export async function run(env: CliEnv): Promise<number> {
  const { args, wait } = takeWaitFlag('prune', env.args);
  const { values } = parseFlags('prune', args, {
    ...COMMON_OPTIONS,
    'dry-run': { type: 'boolean' },
    policies: { type: 'string' },
    node: { type: 'string' },
    'all-nodes': { type: 'boolean' },
  });
  if (values.help) {
    env.stdout.write(usage + '\n');
    return 0;
  }
  if (values.node !== undefined && values['all-nodes']) throw new UsageError('ngcp-backup prune: give --node or --all-nodes, not both');
  const policies = await loadPolicies(values.policies ?? DEFAULT_POLICIES_FILE);
  const ctx = await openContext(env, values);
  await ctx.storage.check();
  const node = values['all-nodes'] ? undefined : (values.node ?? (await readNodeName(ctx.config.node.root, ctx.config.node.name)));
  const dryRun = values['dry-run'] ?? false;
  const prune = async () => {
    const plan = await planPrune(ctx.storage, node, policies, new Date());
    const result = dryRun ? undefined : await applyPrune(ctx.storage, plan, { signal: env.signal });
    if (values.json) {
      env.stdout.write(JSON.stringify({ dryRun, policies: policies.source, ...plan, result: result ?? null }, null, 2) + '\n');
    } else {
      env.stdout.write(formatPlan(plan, dryRun));
      if (result) env.stdout.write(formatResult(result));
    }
    if (result && result.failed.length > 0) {
      throw new NgcpBackupError(
        `prune could not remove ${result.failed.length} snapshot(s): ${result.failed.map((f) => `${f.id}: ${f.error}`).slice(0, 5).join('; ')}`,
      );
    }
  };
  // A dry run changes nothing and needs no lock; a real one plans under the lock, so that a
  // backup finishing meanwhile cannot make the plan stale.
  if (dryRun) await prune();
  else await runJob({ ...ctx, signal: env.signal, lockWait: wait }, { command: 'prune', record: 'prune' }, async () => ({ value: await prune() }));
  return 0;
}

function formatPlan(plan: PrunePlan, dryRun: boolean): string {
  if (plan.snapshots.length === 0) return `no snapshots in ${plan.location}\n`;
  const word = { keep: 'keep', remove: dryRun ? 'would remove' : 'remove', locked: 'locked' } as const;
  const lines = plan.snapshots.map((s) => `${word[s.action].padEnd(dryRun ? 12 : 6)}  ${s.node}  ${s.id}  ${s.reasons.join('; ')}`);
  const count = (a: string) => plan.snapshots.filter((s) => s.action === a).length;
  lines.push(`${count('keep')} kept, ${count('remove')} ${dryRun ? 'to remove (dry run: nothing changed)' : 'to remove'}, ${count('locked')} locked`);
  return lines.join('\n') + '\n';
}

function formatResult(result: PruneResult): string {
  const lines = result.removed.map((r) => `removed ${r.node}/${r.id} (${r.objects} objects)`);
  for (const l of result.locked) lines.push(`skipped, locked ${l.node}/${l.id}: ${l.reasons.at(-1)}`);
  for (const f of result.failed) lines.push(`FAILED ${f.node}/${f.id}: ${f.error}`);
  return lines.length ? lines.join('\n') + '\n' : '';
}
