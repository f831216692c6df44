import type { Config } from '../config/schema.js';
import { readNodeName } from '../ngcp/facts.js';
import { openStorage } from '../repository/open-storage.js';
import type { Storage } from '../repository/storage.js';
import { silentProgress, type ProgressBarOptions, type ProgressLine } from '../report/progress.js';
import { silentReporter, warn, type Reporter } from '../report/reporter.js';
import { registerSecret } from '../report/secrets.js';

/**
 * What every use case runs with: the config, its repository, where to report, the signal that
 * stops it (SIGTERM), and a progress line (drawn by the CLI at a terminal, silent otherwise).
 * The CLI and the daemon each build one; core code never prints.
 */
export interface AppContext {
  config: Config;
  storage: Storage;
  reporter: Reporter;
  signal: AbortSignal;
  progress(options: ProgressBarOptions): ProgressLine;
  now?: () => Date;
}

/** How a use case that writes meets the host's lock, and how it is named to whoever meets it. */
export interface JobOptions {
  /** Seconds to wait for the lock (undefined: fail at once, Infinity: until the signal). */
  lockWait?: number;
  /** The command as shown to whoever meets the lock, e.g. "backup" or "daemon backup". */
  command?: string;
}

export const noProgress = (): ProgressLine => silentProgress;

/**
 * The repository of a config, with its retry policy (repository.attempts, repository.retry_delay_ms);
 * each retry is a warning on `reporter`. S3 credentials come from the environment or the
 * credentials file.
 */
export function storageFor(config: Config, reporter: Reporter = silentReporter): Storage {
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
    retry: { attempts: config.repository.attempts, baseDelayMs: config.repository.retryDelayMs, maxDelayMs: 20_000 },
    onRetry: (e) =>
      warn(reporter, `repository: ${e.operation} failed (${(e.error as Error)?.message ?? String(e.error)}); retry ${e.retry} of ${e.of} in ${(e.delayMs / 1000).toFixed(1)} s`),
  });
}

/** This node's name: node.name, else /etc/ngcp_nodename, else 'spce'. */
export function ownNode(config: Config): Promise<string> {
  return readNodeName(config.node.root, config.node.name);
}
