import type { AppContext } from '../app/context.js';
import { storageFor } from '../app/context.js';
import { loadConfig } from '../config/load.js';
import { DEFAULT_CONFIG_PATH } from '../config/schema.js';
import { silentProgress, terminalProgress, type ProgressBarOptions, type ProgressLine, type ProgressStream } from '../report/progress.js';
import { jsonReporter, textReporter, type Reporter } from '../report/reporter.js';

/** What every command gets from main: its arguments, output streams, a signal for SIGTERM. */
export interface CliEnv {
  args: string[];
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  signal: AbortSignal;
}

/**
 * The use cases' context for a command: the config (--config, else $NGCP_BACKUP_CONFIG, else the
 * default), its repository, text or JSON reporting on stderr, and a progress line drawn only when
 * stderr is a terminal and neither --quiet nor --json is given.
 */
export async function openContext(env: CliEnv, flags: { config?: string; json?: boolean; quiet?: boolean }): Promise<AppContext> {
  const config = await loadConfig(configPath(flags));
  const text = flags.json ? jsonReporter(env.stderr) : textReporter(env.stderr, { quiet: flags.quiet });
  let line: ProgressLine = silentProgress;
  // A log line takes the progress line's place; the next update draws it again below.
  const reporter: Reporter = { event: (level, message, fields) => (line.clear(), text.event(level, message, fields)) };
  const storage = storageFor(config, reporter);
  const progress = (options: ProgressBarOptions): ProgressLine => (line = terminalProgress(env.stderr as ProgressStream, flags, options));
  return { config, storage, reporter, signal: env.signal, progress };
}

export function configPath(flags: { config?: string }): string {
  return flags.config ?? process.env['NGCP_BACKUP_CONFIG'] ?? DEFAULT_CONFIG_PATH;
}

/** Options every command accepts. */
export const COMMON_OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Sizes for the operator: 1.5 MiB. */
export { formatSize as formatBytes } from '../report/progress.js';
