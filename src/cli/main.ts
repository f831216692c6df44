#!/usr/bin/env node
import { classifyError, ExitCode, exitCodeOf, InterruptedError, NgcpBackupError, UsageError } from '../errors.js';
import { redact } from '../report/secrets.js';
import type { CliEnv } from './context.js';

type Command = { run(env: CliEnv): Promise<number>; usage: string };

/** Commands load lazily: `ngcp-backup list` does not load the dump engine. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  backup: () => import('./backup.js'),
  list: () => import('./list.js'),
  verify: () => import('./verify.js'),
  keygen: () => import('./keygen.js'),
  restore: () => import('./restore.js'),
  drill: () => import('./drill.js'),
  prune: () => import('./prune.js'),
  cdr: () => import('./cdr.js'),
  status: () => import('./status.js'),
  daemon: () => import('./daemon.js'),
};

const USAGE = `Usage: ngcp-backup <command> [options]

Commands:
  backup   take a snapshot (databases + node files) into the repository
  list     list the snapshots in the repository
  verify   check a snapshot's stored objects without any key
  restore  restore a snapshot onto this node (verified, ends in ngcpcfg apply)
  drill    restore a snapshot into a scratch MariaDB and prove it matches
  prune    remove snapshots the retention policies no longer keep
  cdr      ship exported CDR files (cdr ship), bring them back (cdr restore)
  keygen   create an age identity and print its recipient
  status   last runs, next runs, lock holder and repository usage of this node
  daemon   run backup, CDR shipping, prune and drill on the configured schedules

Every command accepts --config FILE (default /etc/ngcp-backup/config.yml) and --help.
Commands that write (backup, prune, cdr, restore, drill) hold the host's lock; with
--wait[=SECONDS] they wait for it instead of exiting 11.
Exit codes: docs/exit-codes.md.`;

/** The one place where errors become exit codes and messages (docs/exit-codes.md). */
export async function main(argv: string[], out = process.stdout, err = process.stderr): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out.write(USAGE + '\n');
    return name ? 0 : ExitCode.usage;
  }
  if (name === '--version') {
    out.write((await import('../version.js')).TOOL_VERSION + '\n');
    return 0;
  }
  // A reader that went away (`| head -1`) is no failure of ours: the rest of the output is
  // dropped, the command finishes what it started and exits with its own code, no stack trace.
  for (const stream of [out, err]) stream.on('error', ignoreClosedPipe);
  const controller = new AbortController();
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => () => {
    if (controller.signal.aborted) process.exit(signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.terminated);
    err.write(`ngcp-backup: ${signal} received, stopping cleanly (a backup aborts its uploads and writes no manifest)\n`);
    controller.abort(new InterruptedError(signal));
  };
  const sigint = onSignal('SIGINT');
  const sigterm = onSignal('SIGTERM');
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);
  try {
    const load = COMMANDS[name];
    if (!load) throw new UsageError(`unknown command ${JSON.stringify(name)}; commands: ${Object.keys(COMMANDS).join(', ')}`);
    const command = await load();
    return await command.run({ args, stdout: out, stderr: err, signal: controller.signal });
  } catch (error) {
    const reason = controller.signal.reason as unknown;
    const failure = classifyError(error instanceof InterruptedError ? error : controller.signal.aborted && reason instanceof InterruptedError ? reason : error);
    const code = exitCodeOf(failure);
    if (failure instanceof NgcpBackupError) {
      // Some messages already say which command they come from.
      const prefix = `ngcp-backup ${name}: `;
      err.write(redact(failure.message.startsWith(prefix) ? failure.message : prefix + failure.message) + '\n');
    } else {
      err.write(redact(`ngcp-backup ${name}: internal error (please report it): ${(failure as Error)?.stack ?? String(failure)}`) + '\n');
    }
    return code;
  } finally {
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigterm);
  }
}

function ignoreClosedPipe(error: NodeJS.ErrnoException): void {
  if (error.code === 'EPIPE') return;
  // Anything else on a standard stream stays what it was: an uncaught error.
  setImmediate(() => {
    throw error;
  });
}

// The AWS SDK warns on every start that future versions will need Node 22: not the
// operator's business on each nightly run (docs/install.md says it); other warnings still print.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'NodeVersionSupportWarning' && !w.message.startsWith('NodeVersionSupportWarning')) process.stderr.write(`ngcp-backup: warning: ${w.message}\n`);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Whatever a library left open (a socket, a child being reaped) must not keep a finished
    // command alive; the timer itself does not hold the process.
    setTimeout(() => process.exit(code), 3000).unref();
  },
  (error: unknown) => {
    process.stderr.write(redact(`ngcp-backup: ${String(error)}`) + '\n');
    process.exitCode = ExitCode.internal;
  },
);
