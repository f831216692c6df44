import type { Config } from '../config/schema.js';
import { DEFAULT_CONFIG_PATH } from '../config/schema.js';
import { loadConfig } from '../config/load.js';
import { openStorage } from '../repository/open-storage.js';
import type { Storage } from '../repository/storage.js';
import { silentProgress, terminalProgress, type ProgressBarOptions, type ProgressLine, type ProgressStream } from '../report/progress.js';
import { jsonReporter, textReporter, type Reporter } from '../report/reporter.js';
import { registerSecret } from '../report/secrets.js';

/** What every command gets from main: its arguments, output streams, a signal for SIGTERM. */
export interface CliEnv {
  args: string[];
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  signal: AbortSignal;
}

export interface CommandContext {
  config: Config;
  storage: Storage;
  reporter: Reporter;
  /**
   * A progress line on stderr for long work: drawn only when stderr is a terminal and neither
   * --quiet nor --json is given; silent otherwise. The command ends it before its summary.
   */
  progress(options: ProgressBarOptions): ProgressLine;
}

export async function openContext(env: CliEnv, flags: { config?: string; json?: boolean; quiet?: boolean }): Promise<CommandContext> {
  const config = await loadConfig(flags.config ?? process.env['NGCP_BACKUP_CONFIG'] ?? DEFAULT_CONFIG_PATH);
  const storage = storageFor(config);
  const text = flags.json ? jsonReporter(env.stderr) : textReporter(env.stderr, { quiet: flags.quiet });
  let line: ProgressLine = silentProgress;
  // A log line takes the progress line's place; the next update draws it again below.
  const reporter: Reporter = { event: (level, message, fields) => (line.clear(), text.event(level, message, fields)) };
  const progress = (options: ProgressBarOptions): ProgressLine => (line = terminalProgress(env.stderr as ProgressStream, flags, options));
  return { config, storage, reporter, progress };
}

/** The repository of a config; S3 credentials come from the environment or the credentials file. */
export function storageFor(config: Config): Storage {
  if (config.repository.credentialsFile) process.env['AWS_SHARED_CREDENTIALS_FILE'] = config.repository.credentialsFile;
  if (config.repository.profile) process.env['AWS_PROFILE'] = config.repository.profile;
  registerSecret(process.env['AWS_SECRET_ACCESS_KEY']);
  registerSecret(process.env['AWS_SESSION_TOKEN']);
  return openStorage(config.repository.url, {
    endpoint: config.repository.endpoint,
    region: config.repository.region,
    pathStyle: config.repository.pathStyle,
    partSize: config.repository.partSizeMiB * 1024 * 1024,
    queueSize: config.repository.uploadQueue,
    objectLock: config.repository.objectLock,
  });
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
