import { loadConfig } from '../config/load.js';
import { textReporter } from '../report/reporter.js';
import { runDaemon } from '../daemon/daemon.js';
import { parseFlags } from './args.js';
import { storageFor } from '../app/context.js';
import { COMMON_OPTIONS, configPath, type CliEnv } from './context.js';

export const usage = `Usage: ngcp-backup daemon [--config FILE]
Runs the jobs on the schedules of the config (schedule.backup, schedule.cdr_ship,
schedule.drill; prune after each successful backup), one at a time under the host's lock.
A run missed while the host was down runs once at start-up. SIGHUP reloads the config (an
invalid one is logged and the old one kept) and reopens the log file. SIGTERM aborts the
running job (its uploads are aborted, no manifest is written, the lock is released) and
exits 0. See docs/service.md.`;

export async function run(env: CliEnv): Promise<number> {
  const { values } = parseFlags('daemon', env.args, COMMON_OPTIONS);
  if (values.help) {
    env.stdout.write(usage + '\n');
    return 0;
  }
  const file = configPath(values);
  await runDaemon({
    loadConfig: () => loadConfig(file),
    openStorage: storageFor,
    reporter: textReporter(env.stderr, { quiet: values.quiet }),
    signal: env.signal,
    onReload: (handler) => {
      process.on('SIGHUP', handler);
      return () => process.off('SIGHUP', handler);
    },
  });
  // A requested stop is not a failure: systemd's Restart=on-failure must not restart it.
  return 0;
}
