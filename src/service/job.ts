import { mkdir } from 'node:fs/promises';
import type { Config } from '../config/schema.js';
import { classifyError, ConfigError, ExitCode, exitCodeOf, HalfRestoredError, InterruptedError, NgcpBackupError } from '../errors.js';
import { readNodeName } from '../ngcp/facts.js';
import { hostName, sendAlerts } from './alerts.js';
import { openLogFile, type LogFile } from './log-file.js';
import { renderMetrics, writeMetrics } from './metrics.js';
import { info, silentReporter, teeReporter, warn, type Reporter } from '../report/reporter.js';
import { appendRun, readRecords } from './records.js';
import { readRestoreState } from './restore-state.js';
import { redact } from '../report/secrets.js';
import { nodePrefixes } from '../format/layout.js';
import type { Storage } from '../repository/storage.js';
import { acquireLock, describeHolder } from './lock.js';
import type { JobRun, JobName } from '../format/job-record.js';

/**
 * Everything around a run of a job that writes: the host's lock (taking over a stale one and
 * cleaning up what its run left), the JSON log file, and for the recorded jobs the run record,
 * the metrics file and the alerts. The CLI commands and the daemon both run jobs through here.
 */
export interface JobEnv {
  config: Config;
  storage: Storage;
  /** The terminal (or journal) reporter; the log file is added here. */
  reporter: Reporter;
  signal: AbortSignal;
  now?: () => Date;
}

/** What a run tells its record. */
export interface JobOutcome {
  bytes?: number;
  snapshot?: string;
  lockMs?: number;
}

export interface JobSpec {
  /** The command, as shown to whoever meets the lock (e.g. "backup", "cdr ship"). */
  command: string;
  /** Recorded jobs keep a run record, metrics and alerts; restore and cdr restore only lock and log. */
  record?: JobName;
  /** Seconds to wait for the lock (undefined: fail at once, Infinity: until the signal). */
  lockWait?: number;
}

export async function runJob<T>(env: JobEnv, spec: JobSpec, body: (reporter: Reporter) => Promise<{ value: T; outcome?: JobOutcome }>): Promise<T> {
  const { config } = env;
  const now = env.now ?? (() => new Date());
  const node = await readNodeName(config.node.root, config.node.name).catch(() => config.node.name ?? 'spce');
  const log = openLog(config, env.reporter, { command: spec.command, node });
  const reporter = log ? teeReporter(env.reporter, log.reporter) : env.reporter;
  // Start and end go to the log file only: on the terminal the command's own output says it.
  const logOnly = log?.reporter ?? silentReporter;
  const started = now();
  const t0 = performance.now();
  let outcome: JobOutcome = {};
  let failure: unknown;
  try {
    info(logOnly, `${spec.command} started`);
    const lock = await takeLock(env, spec, reporter);
    try {
      if (lock.takenOver) await cleanupAfterTakeover(env.storage, node, describeHolder(lock.takenOver), reporter);
      const result = await body(reporter);
      outcome = result.outcome ?? {};
      return result.value;
    } finally {
      await lock.release();
    }
  } catch (error) {
    failure = failureOf(error, env.signal);
    throw error;
  } finally {
    const durationMs = Math.round(performance.now() - t0);
    const exitCode = failure === undefined ? ExitCode.ok : exitCodeOf(failure);
    const message = failure === undefined ? null : messageOf(failure);
    if (failure === undefined) info(logOnly, `${spec.command} finished`, { durationMs, bytes: outcome.bytes, snapshot: outcome.snapshot });
    else logOnly.event('error', `${spec.command} failed: ${message}`, { exitCode, durationMs });
    if (spec.record) {
      const run: JobRun = {
        job: spec.record,
        result: failure === undefined ? 'ok' : 'failed',
        started: started.toISOString(),
        finished: now().toISOString(),
        durationMs,
        bytes: outcome.bytes ?? null,
        snapshot: outcome.snapshot ?? null,
        error: message,
        exitCode,
        lockMs: outcome.lockMs ?? null,
      };
      await afterRun(config, node, run, failure, reporter);
    }
    log?.close();
  }
}

async function takeLock(env: JobEnv, spec: JobSpec, reporter: Reporter) {
  const dir = env.config.service.lockDir;
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
  } catch (error) {
    throw new ConfigError(`service.lock_dir ${dir} cannot be created (${(error as NodeJS.ErrnoException).code}); set it to a directory this user may write`);
  }
  return acquireLock({
    dir,
    command: spec.command,
    waitSeconds: spec.lockWait,
    signal: env.signal,
    onWait: (h) => info(reporter, `waiting for the lock: ${describeHolder(h)} holds it`),
  });
}

/**
 * A stale lock means a run died without cleaning up (kill -9, power loss): its multipart
 * uploads and temporary files are orphans. Nobody else writes this node's prefixes while we
 * hold the lock, so they can go.
 */
async function cleanupAfterTakeover(storage: Storage, node: string, holder: string, reporter: Reporter): Promise<void> {
  let removed = 0;
  let failed: string | undefined;
  for (const prefix of nodePrefixes(node)) {
    try {
      removed += await storage.cleanupIncomplete(prefix);
    } catch (error) {
      failed = (error as Error).message;
    }
  }
  warn(
    reporter,
    `took over the stale lock of ${holder}, which is no longer running; aborted ${removed} incomplete upload(s) or temporary file(s) it left in the repository` +
      (failed ? ` (cleanup incomplete: ${failed})` : ''),
  );
}

/** Record, metrics, alerts: each failure here is a warning, never the job's outcome. */
async function afterRun(config: Config, node: string, run: JobRun, failure: unknown, reporter: Reporter): Promise<void> {
  try {
    await appendRun(config.service.stateDir, run);
  } catch (error) {
    warn(reporter, `could not write the run record in ${config.service.stateDir} (service.state_dir): ${(error as Error).message}`);
  }
  if (config.service.metricsFile) {
    try {
      await writeMetrics(config.service.metricsFile, renderMetrics(await readRecords(config.service.stateDir), node, await readRestoreState(config.service.stateDir)));
    } catch (error) {
      warn(reporter, `could not write the metrics file ${config.service.metricsFile} (service.metrics_file): ${(error as Error).message}`);
    }
  }
  // A run stopped on purpose (SIGTERM, Ctrl-C) is recorded but is nobody's emergency; a
  // half-restored node was alerted on once already (service/restore-state.ts).
  if (failure !== undefined && !(failure instanceof InterruptedError) && !(failure instanceof HalfRestoredError)) {
    await sendAlerts(config.alerts, { job: run.job, node, host: hostName(), error: run.error ?? 'failed', exitCode: run.exitCode, time: run.finished }, reporter);
  }
}

function openLog(config: Config, terminal: Reporter, fields: Record<string, string>): LogFile | undefined {
  if (!config.service.logFile) return undefined;
  try {
    return openLogFile(config.service.logFile, fields);
  } catch (error) {
    warn(terminal, `cannot append to the log file ${config.service.logFile} (service.log_file): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return undefined;
  }
}

/** The signal's reason wins: an abort surfaces as whatever error the aborted operation threw. */
function failureOf(error: unknown, signal: AbortSignal): unknown {
  if (error instanceof InterruptedError) return error;
  const reason = signal.aborted ? (signal.reason as unknown) : undefined;
  return reason instanceof InterruptedError ? reason : error;
}

function messageOf(error: unknown): string {
  const failure = classifyError(error);
  if (failure instanceof NgcpBackupError) return redact(failure.message);
  return redact(`internal error: ${(failure as Error)?.message ?? String(failure)}`);
}
