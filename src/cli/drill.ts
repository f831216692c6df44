import { runDrill } from '../app/drill.js';
import { runJob } from '../service/job.js';
import { parseFlags } from './args.js';
import { takeWaitFlag, WAIT_USAGE } from './lock-flags.js';
import { COMMON_OPTIONS, type CliEnv } from './context.js';
import { openSnapshotWithKey } from './snapshot-args.js';

export const usage = `Usage: ngcp-backup drill [ID | --latest] --identity FILE [--node NAME] [--json]
Restores every database of a snapshot into a scratch MariaDB it starts in a temporary
directory, checks every table's row count and checksum and the schema objects against the
snapshot, and writes the drill report into the repository. Exit 15 on any mismatch.
Meant for a verification host that holds the identity, not for the node.
${WAIT_USAGE}`;

export async function run(env: CliEnv): Promise<number> {
  const { args, wait } = takeWaitFlag('drill', env.args);
  const { values, positionals } = parseFlags('drill', args, { ...COMMON_OPTIONS, latest: { type: 'boolean' }, identity: { type: 'string', short: 'i' }, node: { type: 'string' } }, 1);
  if (values.help) {
    env.stdout.write(usage + '\n');
    return 0;
  }
  const { ctx, identities, manifest } = await openSnapshotWithKey(env, 'drill', values, positionals[0]);
  const progress = ctx.progress({ label: 'download' });
  const report = await runJob({ ...ctx, signal: env.signal, lockWait: wait }, { command: 'drill', record: 'drill' }, async (reporter) => {
    const report = await runDrill({ ...ctx, reporter, signal: env.signal, progress }, manifest, identities);
    return { value: report, outcome: { snapshot: report.snapshot } };
  }).finally(() => progress.end());
  if (values.json) env.stdout.write(JSON.stringify(report) + '\n');
  else {
    env.stdout.write(
      `drill of snapshot ${report.snapshot}: PASSED in ${(report.durationMs / 1000).toFixed(1)} s, ` +
        `${report.tablesChecked} tables match the snapshot's row counts and checksums, schema objects match\n`,
    );
  }
  return 0;
}
