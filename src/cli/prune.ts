import { prune } from '../app/prune.js';
import { UsageError } from '../errors.js';
import { DEFAULT_POLICIES_FILE } from '../retention/policy.js';
import { parseFlags } from './args.js';
import { formatPrunePlan, formatPruneResult } from './format/prune.js';
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
  const ctx = await openContext(env, values);
  await prune(ctx, { node: values.node, allNodes: values['all-nodes'], policiesFile: values.policies, dryRun: values['dry-run'], lockWait: wait }, (outcome) => {
    const { dryRun, plan, result } = outcome;
    if (values.json) {
      env.stdout.write(JSON.stringify({ dryRun, policies: outcome.policiesSource, ...plan, result }, null, 2) + '\n');
    } else {
      env.stdout.write(formatPrunePlan(plan, dryRun));
      if (result) env.stdout.write(formatPruneResult(result));
    }
  });
  return 0;
}
