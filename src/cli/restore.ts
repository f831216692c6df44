import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { applyRestore, dryRunRestore, prepareRestore, type PreparedRestore } from '../app/restore.js';
import { DEFAULT_CONFIG_PATH } from '../config/schema.js';
import { RefusedError, UsageError } from '../errors.js';
import { parseFlags } from './args.js';
import { COMMON_OPTIONS, configPath, openContext, type CliEnv } from './context.js';
import { takeWaitFlag, WAIT_USAGE } from './lock-flags.js';

export const usage = `Usage: ngcp-backup restore [ID | --latest] --identity FILE [options]
Restores a snapshot onto the node the config describes (node.root, mysql): downloads and
verifies every object, takes a safety snapshot, restores files and databases, checks every
table against the snapshot's figures, then runs ngcpcfg apply. The plan (what it replaces,
on which server) is printed first, before the question or, with --yes, before any work.
  --node NAME             snapshots of another node (e.g. the machine this one replaces)
  --dry-run               print the plan and prove it (identity, every object intact and
                          holding what its entry names), change nothing
  --yes                   do not ask before overwriting
  --restore-network       also replace /etc/ngcp-config/network.yml (kept from this node
                          otherwise: its interfaces and addresses are this machine's)
  --no-safety-snapshot    skip the safety snapshot (nothing to roll back to)
  --no-apply              do not run ngcpcfg apply
  --apply                 run ngcpcfg apply after a selective restore too
  --only files|databases  restore only the node files, or only the databases
  --database NAME         restore one database
  --table DB.TABLE        restore one table (with its triggers)
  --force-version         restore onto a node of another NGCP release
  --json                  print the report as JSON (the last line, after the plan)
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
      'restore-network': { type: 'boolean' },
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
  const config = configPath(values);
  const dryRun = values['dry-run'] ?? false;
  const prepared = await prepareRestore(ctx, {
    id: positionals[0],
    latest: values.latest,
    node: values.node,
    identityFile: values.identity,
    configFile: config === DEFAULT_CONFIG_PATH ? undefined : path.resolve(config),
    dryRun,
    only: values.only as 'files' | 'databases' | undefined,
    database: values.database,
    table: values.table,
    safetySnapshot: !values['no-safety-snapshot'],
    noApply: values['no-apply'] ?? false,
    forceApply: values.apply ?? false,
    forceVersion: values['force-version'] ?? false,
    restoreNetwork: values['restore-network'] ?? false,
  });
  // The plan and the target come first: before the question, and before any work with --yes.
  env.stdout.write(prepared.planText + '\n');
  let report;
  if (dryRun) report = await dryRunRestore(ctx, prepared);
  else {
    if (!values.yes && !(await confirm(env, prepared))) {
      throw new RefusedError('restore not confirmed; nothing was changed (use --yes to run without asking)');
    }
    report = await applyRestore(ctx, prepared, { lockWait: wait });
  }
  if (values.json) {
    const { plan, ...rest } = report;
    env.stdout.write(JSON.stringify({ snapshot: plan.snapshot, databases: plan.databases, files: plan.files, replaces: plan.replaces, ...rest, planText: undefined }) + '\n');
    return 0;
  }
  if (report.dryRun) {
    env.stdout.write(
      `dry run: nothing was changed; the identity decrypts the snapshot, and its ${report.objectsVerified} objects are intact (sha256), decrypt, decompress and hold what their manifest entries name\n`,
    );
    return 0;
  }
  env.stdout.write(
    [
      `restored snapshot ${report.plan.snapshot.id} in ${(report.durationMs / 1000).toFixed(1)} s:`,
      `  safety snapshot: ${report.safetySnapshot ?? 'none'}`,
      `  files restored:  ${report.filesRestored}${report.filesKept.length ? ` (kept as this node had them: ${report.filesKept.join(', ')})` : ''}`,
      ...(report.databasesDropped.length ? [`  dropped:         ${report.databasesDropped.join(', ')} (created by the unfinished restore)`] : []),
      `  tables verified: ${report.tablesVerified} (row counts and checksums equal to the snapshot's)`,
      `  ngcpcfg apply:   ${report.applied ? 'done' : 'not run'}`,
      ...(report.logins.length ? [`  service users:   ${report.logins.filter((l) => l.ok).length} of ${report.logins.length} log in with the restored passwords`] : []),
      ...report.warnings.map((w) => `  warning: ${w}`),
    ].join('\n') + '\n',
  );
  return 0;
}

/** Asks at a terminal (the plan is on stdout already); anywhere else the answer is no (use --yes). */
async function confirm(env: CliEnv, prepared: PreparedRestore): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const target = prepared.plan.replaces?.target;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question(`This overwrites node root ${target?.root ?? '?'} and ${target?.server ?? 'its MariaDB'}. Type "yes" to restore: `);
  rl.close();
  return answer.trim() === 'yes';
}
