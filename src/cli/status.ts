import { gatherStatus } from '../app/status.js';
import { parseFlags } from './args.js';
import { COMMON_OPTIONS, openContext, type CliEnv } from './context.js';
import { formatStatus } from './format/status.js';

export const usage = `Usage: ngcp-backup status [--json] [--config FILE]
Shows the last run of each job (backup, cdr-ship, prune, drill) with its result, time,
duration and size, the next scheduled runs, who holds the lock, and the repository usage of
this node. Reads the run records in service.state_dir; changes nothing.
Exits 0, or with the repository's exit code (10, 13) when it cannot be read.`;

export async function run(env: CliEnv): Promise<number> {
  const { values } = parseFlags('status', env.args, COMMON_OPTIONS);
  if (values.help) {
    env.stdout.write(usage + '\n');
    return 0;
  }
  const ctx = await openContext(env, values);
  const { status, repositoryError } = await gatherStatus(ctx.config, ctx.storage, new Date());
  env.stdout.write(values.json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status));
  if (repositoryError) throw repositoryError;
  return 0;
}
