import { drill } from '../app/drill.js';
import { UsageError } from '../errors.js';
import { parseFlags } from './args.js';
import { COMMON_OPTIONS, openContext, type CliEnv } from './context.js';
import { takeWaitFlag, WAIT_USAGE } from './lock-flags.js';

export const usage = `Usage: ngcp-backup drill [ID | --latest] --identity FILE [--node NAME] [--json]
Restores every database of a snapshot into a scratch MariaDB it starts in a temporary
directory (drill.work_dir), checks every table's row count and checksum and the schema objects
against the snapshot, and writes the drill report into the repository. Exit 15 on any mismatch.
Meant for a verification host that holds the identity, not for the node; it needs the MariaDB
server programs (Debian's mariadb-server).
${WAIT_USAGE}`;

export async function run(env: CliEnv): Promise<number> {
  const { args, wait } = takeWaitFlag('drill', env.args);
  const { values, positionals } = parseFlags('drill', args, { ...COMMON_OPTIONS, latest: { type: 'boolean' }, identity: { type: 'string', short: 'i' }, node: { type: 'string' } }, 1);
  if (values.help) {
    env.stdout.write(usage + '\n');
    return 0;
  }
  if (!values.identity) throw new UsageError('ngcp-backup drill: --identity FILE is required (the age identity that decrypts the snapshot)');
  const ctx = await openContext(env, values);
  const report = await drill(ctx, { id: positionals[0], latest: values.latest, node: values.node, identityFile: values.identity, lockWait: wait });
  if (values.json) env.stdout.write(JSON.stringify(report) + '\n');
  else {
    env.stdout.write(
      `drill of snapshot ${report.snapshot}: PASSED in ${(report.durationMs / 1000).toFixed(1)} s, ` +
        `${report.tablesChecked} tables match the snapshot's row counts and checksums, schema objects match\n`,
    );
  }
  return 0;
}
