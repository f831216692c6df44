/** The jobs that keep records; restore and cdr restore take the lock but are not scheduled. */
export const JOBS = ['backup', 'cdr-ship', 'prune', 'drill'] as const;
export type JobName = (typeof JOBS)[number];

/**
 * A job's run record: the last run, the last successful run and the failure counters
 * (service.state_dir/job-<job>.json).
 */
export interface JobRun {
  job: JobName;
  result: 'ok' | 'failed';
  started: string;
  finished: string;
  durationMs: number;
  /** Bytes stored (backup, cdr-ship) or checked (drill). */
  bytes: number | null;
  snapshot: string | null;
  error: string | null;
  exitCode: number;
  /** Backup only: how long the global read lock was held. */
  lockMs: number | null;
}

export interface JobRecord {
  format: 'ngcp-backup/job-record/1';
  job: JobName;
  last: JobRun;
  lastSuccess: JobRun | null;
  consecutiveFailures: number;
  failuresTotal: number;
  runsTotal: number;
}

export type JobRecords = Partial<Record<JobName, JobRecord>>;

/** The record after one more run (pure). */
export function nextRecord(previous: JobRecord | undefined, run: JobRun): JobRecord {
  const ok = run.result === 'ok';
  return {
    format: 'ngcp-backup/job-record/1',
    job: run.job,
    last: run,
    lastSuccess: ok ? run : (previous?.lastSuccess ?? null),
    consecutiveFailures: ok ? 0 : (previous?.consecutiveFailures ?? 0) + 1,
    failuresTotal: (previous?.failuresTotal ?? 0) + (ok ? 0 : 1),
    runsTotal: (previous?.runsTotal ?? 0) + 1,
  };
}

