import type { Config } from '../config/schema.js';
import { exitCodeOf } from '../errors.js';
import { openLogFile, type LogFile } from '../service/log-file.js';
import { info, teeReporter, warn, type Reporter } from '../report/reporter.js';
import { lastAttempt, readRecords } from '../service/records.js';
import { redact } from '../report/secrets.js';
import type { Storage } from '../repository/storage.js';
import { noProgress, type AppContext } from '../app/context.js';
import { DAEMON_JOBS } from './jobs.js';
import { nextRun } from '../schedule/cron.js';
import { missedRuns, nextRuns, scheduledJobs, type ScheduledJob } from '../schedule/plan.js';
import { type JobRecords, JOBS, type JobName } from '../format/job-record.js';

/**
 * `ngcp-backup daemon`: a thin loop around the pure planner (src/schedule/plan.ts). One timer
 * to the soonest next run; due jobs go into a queue that one worker drains, each job under the
 * host's lock (waiting for it, so a CLI run in progress delays a job, never doubles it).
 */
export interface DaemonDeps {
  loadConfig(): Promise<Config>;
  openStorage(config: Config, reporter: Reporter): Storage;
  /** The terminal (the journal under systemd). */
  reporter: Reporter;
  /** Aborted by SIGTERM/SIGINT: the running job is aborted and the daemon returns. */
  signal: AbortSignal;
  /** Registers the reload handler (SIGHUP); returns its removal. */
  onReload(handler: () => void): () => void;
  now?: () => Date;
}

/** Longest sleep between looks at the clock: a suspended host or a clock change is noticed soon. */
const MAX_SLEEP_MS = 60_000;

export async function runDaemon(deps: DaemonDeps): Promise<void> {
  const now = deps.now ?? (() => new Date());
  let config = await deps.loadConfig();
  let jobs: ScheduledJob[] = scheduledJobs(config.schedule);
  let log: LogFile | undefined;
  let reporter: Reporter = deps.reporter;
  const openLog = () => {
    log?.close();
    log = undefined;
    try {
      if (config.service.logFile) log = openLogFile(config.service.logFile, { command: 'daemon' });
    } catch (error) {
      warn(deps.reporter, `cannot append to the log file ${config.service.logFile} (service.log_file): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    reporter = log ? teeReporter(deps.reporter, log.reporter) : deps.reporter;
  };
  openLog();

  const queue: JobName[] = [];
  let current: JobName | undefined;
  let worker: Promise<void> | undefined;
  let next = new Map<JobName, Date>();
  let timer: NodeJS.Timeout | undefined;

  const describe = () => JOBS.map((j) => `${j}: ${scheduleOf(config, j)}`).join(', ');

  const enqueue = (job: JobName, why: string) => {
    if (current === job || queue.includes(job)) {
      info(reporter, `${job} is due (${why}) but already ${current === job ? 'running' : 'queued'}: not run twice`);
      return;
    }
    info(reporter, `${job} queued: ${why}`);
    queue.push(job);
    worker ??= drain().finally(() => (worker = undefined));
  };

  const drain = async () => {
    while (queue.length > 0 && !deps.signal.aborted) {
      const job = queue.shift()!;
      current = job;
      const ok = await runOne(job);
      current = undefined;
      if (ok && job === 'backup' && config.schedule.pruneAfterBackup) enqueue('prune', 'after a successful backup');
    }
  };

  // Start, end and failure of a job: the job itself writes them to the log file; these are for the terminal.
  const runOne = async (job: JobName): Promise<boolean> => {
    const jobConfig = config;
    let storage: Storage | undefined;
    info(deps.reporter, `${job} started`);
    try {
      storage = deps.openStorage(jobConfig, deps.reporter);
      const ctx: AppContext = { config: jobConfig, storage, reporter: deps.reporter, signal: deps.signal, progress: noProgress, now };
      await DAEMON_JOBS[job](ctx, { lockWait: Infinity, command: `daemon ${job}` });
      info(deps.reporter, `${job} finished`);
      return true;
    } catch (error) {
      deps.reporter.event('error', `${job} failed (exit ${exitCodeOf(error)}): ${redact((error as Error)?.message ?? String(error))}`);
      return false;
    } finally {
      (storage as { destroy?: () => void } | undefined)?.destroy?.();
    }
  };

  const arm = () => {
    clearTimeout(timer);
    if (deps.signal.aborted) return;
    const soonest = Math.min(...[...next.values()].map((d) => d.getTime()));
    const delay = Number.isFinite(soonest) ? Math.max(0, Math.min(soonest - now().getTime(), MAX_SLEEP_MS)) : MAX_SLEEP_MS;
    timer = setTimeout(tick, delay);
  };

  const tick = () => {
    const t = now();
    for (const { job, cron } of jobs) {
      const at = next.get(job);
      if (!at || at.getTime() > t.getTime()) continue;
      enqueue(job, `scheduled at ${at.toISOString()}`);
      const following = nextRun(cron, t, config.schedule.timeZone);
      if (following) next.set(job, following);
      else next.delete(job);
    }
    arm();
  };

  const plan = () => {
    next = new Map(nextRuns(jobs, now(), config.schedule.timeZone).map((n) => [n.job, n.at]));
    arm();
  };

  const reload = async () => {
    try {
      const fresh = await deps.loadConfig();
      const freshJobs = scheduledJobs(fresh.schedule);
      config = fresh;
      jobs = freshJobs;
      openLog(); // a reload also reopens the log file (after logrotate)
      plan();
      info(reporter, `config reloaded from ${config.source}: ${describe()}`);
    } catch (error) {
      reporter.event('error', `config reload failed, keeping the previous config: ${redact((error as Error).message)}`);
    }
  };

  const removeReload = deps.onReload(() => void reload());
  try {
    info(reporter, `daemon started with ${config.source}: ${describe()} (time zone ${config.schedule.timeZone})`);
    const records: JobRecords = await readRecords(config.service.stateDir).catch((error: unknown) => {
      warn(reporter, `cannot read the run records in ${config.service.stateDir} (service.state_dir): ${(error as Error).message}; no missed run is caught up`);
      return {};
    });
    const lastRuns = Object.fromEntries(JOBS.map((j) => [j, lastAttempt(records[j])]));
    for (const m of missedRuns(jobs, lastRuns, now(), config.schedule.timeZone)) {
      enqueue(m.job, `missed its run scheduled at ${m.scheduled.toISOString()} (last run ${m.lastRun.toISOString()})`);
    }
    plan();
    await new Promise<void>((resolve) => {
      if (deps.signal.aborted) resolve();
      else deps.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    clearTimeout(timer);
    info(reporter, `stopping${current ? `: ${current} is being aborted (uploads aborted, no manifest)` : ''}`);
    await worker;
    info(reporter, 'daemon stopped');
  } finally {
    clearTimeout(timer);
    removeReload();
    log?.close();
  }
}

function scheduleOf(config: Config, job: JobName): string {
  const s = config.schedule;
  const cron = { backup: s.backup, 'cdr-ship': s.cdrShip, drill: s.drill, prune: undefined }[job];
  if (job === 'prune') return s.backup && s.pruneAfterBackup ? 'after each successful backup' : 'off';
  return cron ? `"${cron}"` : 'off';
}
