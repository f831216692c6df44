import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { JOBS, nextRecord, type JobName, type JobRecord, type JobRecords, type JobRun } from '../format/job-record.js';
import { writeFileAtomic } from '../util/atomic-file.js';

/**
 * The local record of job runs (src/format/job-record.ts): one JSON file per job in the state
 * directory (0600, written atomically). `status`, the metrics file and the daemon's missed-run
 * check read it.
 */
export function recordFile(stateDir: string, job: JobName): string {
  return path.join(stateDir, `job-${job}.json`);
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
