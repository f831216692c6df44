import { cdrRestore, cdrShip, checkCdrRestoreDates } from '../app/cdr.js';
import { DEFAULT_STATE_DIR } from '../cdr/record.js';
import { UsageError } from '../errors.js';
import { parseFlags } from './args.js';
import { takeWaitFlag, WAIT_USAGE } from './lock-flags.js';
import { COMMON_OPTIONS, formatBytes, openContext, type CliEnv } from './context.js';
import { formatCdrShip } from './format/cdr.js';

export const usage = `Usage: ngcp-backup cdr ship [--dry-run] [options]
       ngcp-backup cdr restore [--from YYYY-MM-DD] [--to YYYY-MM-DD] --identity FILE [options]
ship: uploads every complete CDR export file (cdr.path) once, compressed and encrypted, to
cdr/<node>/<path>.zst.age; skips files still being written (<name>.<pid>); ships files whose
MD5 trailer does not match aside under cdr/<node>/damaged/ and never removes them; then applies
the CDR policy (repository retention, removal of local copies verified in the repository).
restore: brings shipped files back into the export tree (content, mode, mtime; owner as root);
files already present are left alone.
  --dry-run          say what would be done, change nothing
  --accept-changed   ship the current content of files that changed after they were shipped
                     (beside the earlier objects); without it such files fail the run (exit 9)
  --from, --to DAY   restore only files exported on these days (UTC, inclusive)
  --identity FILE    age identity that decrypts the repository (restore)
  --node NAME        files of another node (restore onto a replacement machine)
  --state-dir DIR    where the local record lives (default ${DEFAULT_STATE_DIR})
${WAIT_USAGE}`;

export async function run(env: CliEnv): Promise<number> {
  const { args, wait } = takeWaitFlag('cdr', env.args);
  const { values, positionals } = parseFlags(
    'cdr',
    args,
    {
      ...COMMON_OPTIONS,
      'dry-run': { type: 'boolean' },
      'accept-changed': { type: 'boolean' },
      from: { type: 'string' },
      to: { type: 'string' },
      identity: { type: 'string', short: 'i' },
      node: { type: 'string' },
      'state-dir': { type: 'string' },
    },
    1,
  );
  if (values.help) {
    env.stdout.write(usage + '\n');
    return 0;
  }
  const sub = positionals[0];
  if (sub !== 'ship' && sub !== 'restore') throw new UsageError(`ngcp-backup cdr: give a subcommand, ship or restore (see ngcp-backup cdr --help)`);
  if (sub === 'ship' && (values.from || values.to || values.identity)) throw new UsageError('ngcp-backup cdr ship: --from, --to and --identity belong to cdr restore');
  if (sub === 'ship' && values.node) throw new UsageError('ngcp-backup cdr ship: --node belongs to cdr restore (ship always ships this node)');
  if (sub === 'restore' && !values.identity) throw new UsageError('ngcp-backup cdr restore: --identity FILE is required (the age identity that decrypts the repository)');

  const stateDir = values['state-dir'];
  if (sub === 'restore') checkCdrRestoreDates(values.from, values.to); // before anything else

  const ctx = await openContext(env, values);
  if (sub === 'ship') {
    await cdrShip(ctx, { dryRun: values['dry-run'], acceptChanged: values['accept-changed'], stateDir, lockWait: wait }, ({ result, exportDir }) => {
      env.stdout.write(values.json ? JSON.stringify(result) + '\n' : formatCdrShip(result, exportDir));
    });
    return 0;
  }

  const result = await cdrRestore(ctx, { identityFile: values.identity!, from: values.from, to: values.to, node: values.node, stateDir, dryRun: values['dry-run'], lockWait: wait });
  if (values.json) {
    env.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  }
  env.stdout.write(
    [
      `${result.selected} shipped files in range: ${result.dryRun ? 'would restore' : 'restored'} ${result.restored.length} (${formatBytes(result.bytes)}), ${result.present} already present`,
      ...result.conflicts.map((p) => `  a different file is in the way, left alone: ${p}`),
      ...result.missing.map((p) => `  missing from the repository: ${p}`),
      ...(result.dryRun ? ['dry run: nothing was changed'] : []),
    ].join('\n') + '\n',
  );
  return 0;
}
