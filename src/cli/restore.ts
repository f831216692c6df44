import { createInterface } from 'node:readline/promises';
import { applyRestore, dryRunReport, prepareRestore } from '../app/restore.js';
import { RefusedError, UsageError } from '../errors.js';
import { parseFlags } from './args.js';
import { COMMON_OPTIONS, openContext, type CliEnv } from './context.js';
import { takeWaitFlag, WAIT_USAGE } from './lock-flags.js';

export const usage = `Usage: ngcp-backup restore [ID | --latest] --identity FILE [options]
Restores a snapshot onto the node the config describes (node.root, mysql): downloads and
verifies every object, takes a safety snapshot, restores files and databases, checks every
table against the snapshot's figures, then runs ngcpcfg apply.
  --node NAME             snapshots of another node (e.g. the machine this one replaces)
  --dry-run               print the plan, change nothing
  --yes                   do not ask before overwriting
  --no-safety-snapshot    skip the safety snapshot (nothing to roll back to)
  --no-apply              do not run ngcpcfg apply
  --apply                 run ngcpcfg apply after a selective restore too
  --only files|databases  restore only the node files, or only the databases
  --database NAME         restore one database
  --table DB.TABLE        restore one table (with its triggers)
  --force-version         restore onto a node of another NGCP release
  --json                  print the report as JSON
${WAIT_USAGE}`;

export async function run(env: CliEnv): Promise<number> {
  const { args, wait } = takeWaitFlag('restore', env.args);
  const { values, positionals } = parseFlags(
    'restore',
    args,
    {
      ...COMMON_OPTIONS,
      latest: { type: 'boolean' },
      identity: { type: 'string', short: 'i' },
      node: { type: 'string' },
      'dry-run': { type: 'boolean' },
      yes: { type: 'boolean', short: 'y' },
      'no-safety-snapshot': { type: 'boolean' },
      'no-apply': { type: 'boolean' },
      apply: { type: 'boolean' },
      only: { type: 'string' },
      database: { type: 'string' },
      table: { type: 'string' },
      'force-version': { type: 'boolean' },
    },
    1,
  );
  if (values.help) {
    env.stdout.write(usage + '\n');
    return 0;
  }
  if (values.only !== undefined && values.only !== 'files' && values.only !== 'databases') {
    throw new UsageError(`ngcp-backup restore: --only must be files or databases, got ${JSON.stringify(values.only)}`);
  }
  if (!values.identity) throw new UsageError('ngcp-backup restore: --identity FILE is required (the age identity that decrypts the snapshot)');
  const ctx = await openContext(env, values);
  const prepared = await prepareRestore(ctx, {
    id: positionals[0],
    latest: values.latest,
    node: values.node,
    identityFile: values.identity,
    only: values.only as 'files' | 'databases' | undefined,
    database: values.database,
    table: values.table,
    safetySnapshot: !values['no-safety-snapshot'],
    noApply: values['no-apply'] ?? false,
    forceApply: values.apply ?? false,
    forceVersion: values['force-version'] ?? false,
  });
  let report;
  if (values['dry-run']) report = dryRunReport(prepared);
  else {
    if (!values.yes && !(await confirm(env, prepared.planText))) {
      throw new RefusedError('restore not confirmed; nothing was changed (use --yes to run without asking)');
    }
    report = await applyRestore(ctx, prepared, { lockWait: wait });
  }
  if (values.json) {
    const { plan, ...rest } = report;
    env.stdout.write(JSON.stringify({ snapshot: plan.snapshot, databases: plan.databases, files: plan.files, ...rest, planText: undefined }) + '\n');
    return 0;
  }
  env.stdout.write(report.planText + '\n');
  if (report.dryRun) {
    env.stdout.write('dry run: nothing was changed\n');
    return 0;
  }
  env.stdout.write(
    [
      `restored snapshot ${report.plan.snapshot.id} in ${(report.durationMs / 1000).toFixed(1)} s:`,
      `  safety snapshot: ${report.safetySnapshot ?? 'none'}`,
      `  files restored:  ${report.filesRestored}`,
      `  tables verified: ${report.tablesVerified} (row counts and checksums equal to the snapshot's)`,
      `  ngcpcfg apply:   ${report.applied ? 'done' : 'not run'}`,
      ...(report.logins.length ? [`  service users:   ${report.logins.filter((l) => l.ok).length} of ${report.logins.length} log in with the restored passwords`] : []),
      ...report.warnings.map((w) => `  warning: ${w}`),
    ].join('\n') + '\n',
  );
  return 0;
}

/** Asks at a terminal; anywhere else the answer is no (use --yes). */
async function confirm(env: CliEnv, planText: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  env.stderr.write(planText + '\n');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question('This overwrites the node. Type "yes" to restore: ');
  rl.close();
  return answer.trim() === 'yes';
}
