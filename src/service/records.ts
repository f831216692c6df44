import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { JOBS, type JobName } from '../schedule/plan.js';
import { writeFileAtomic } from '../util/atomic-file.js';

/**
 * The local record of job runs: one JSON file per job in the state directory (0600, written
 * atomically), holding the last run, the last successful run and the failure counters.
 * `status`, the metrics file and the daemon's missed-run check read it.
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

export function recordFile(stateDir: string, job: JobName): string {
  return path.join(stateDir, `job-${job}.json`);
}

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

export async function readRecord(stateDir: string, job: JobName): Promise<JobRecord | undefined> {
  try {
    const r = JSON.parse(await readFile(recordFile(stateDir, job), 'utf8')) as JobRecord;
    return r.format === 'ngcp-backup/job-record/1' ? r : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

export async function readRecords(stateDir: string): Promise<JobRecords> {
  const out: JobRecords = {};
  for (const job of JOBS) {
    const r = await readRecord(stateDir, job);
    if (r) out[job] = r;
  }
  return out;
}

/** Adds a run to the job's record and writes it; returns the new record. */
export async function appendRun(stateDir: string, run: JobRun): Promise<JobRecord> {
  const record = nextRecord(await readRecord(stateDir, run.job), run);
  await writeFileAtomic(recordFile(stateDir, run.job), JSON.stringify(record, null, 2) + '\n', 0o600);
  return record;
}

/**
 * When the job last ran, for missed-run detection: a run stopped by a signal (the host going
 * down) does not count, so the job catches up at the next start.
 */
export function lastAttempt(record: JobRecord | undefined): Date | undefined {
  if (!record) return undefined;
  const interrupted = record.last.exitCode === 130 || record.last.exitCode === 143;
  const run = interrupted ? record.lastSuccess : record.last;
  return run ? new Date(run.started) : undefined;
}
