import type { JobName } from '../format/job-record.js';
import { nextRun, parseCron, previousRun, type CronSchedule } from './cron.js';


export interface ScheduledJob {
  job: JobName;
  cron: CronSchedule;
}

/** What the schedule part of the config says (src/config/schema.ts `schedule`). */
export interface ScheduleSettings {
  backup: string | undefined;
  cdrShip: string | undefined;
  drill: string | undefined;
  timeZone: string;
  pruneAfterBackup: boolean;
}

/** The jobs with a schedule of their own: prune runs after a successful backup instead. */
export function scheduledJobs(settings: ScheduleSettings): ScheduledJob[] {
  const out: ScheduledJob[] = [];
  if (settings.backup) out.push({ job: 'backup', cron: parseCron(settings.backup) });
  if (settings.cdrShip) out.push({ job: 'cdr-ship', cron: parseCron(settings.cdrShip) });
  if (settings.drill) out.push({ job: 'drill', cron: parseCron(settings.drill) });
  return out;
}

export interface MissedRun {
  job: JobName;
  /** The scheduled time no run answered. */
  scheduled: Date;
  lastRun: Date;
}

/**
 * The runs missed while the host (or the daemon) was down: the job's latest scheduled time is
 * after its last recorded run. A job that never ran has missed nothing (a fresh install does
 * not start a backup at once); each job runs at most once to catch up.
 */
export function missedRuns(jobs: ScheduledJob[], lastRuns: Partial<Record<JobName, Date>>, now: Date, timeZone: string): MissedRun[] {
  const out: MissedRun[] = [];
  for (const { job, cron } of jobs) {
    const lastRun = lastRuns[job];
    if (!lastRun) continue;
    const scheduled = previousRun(cron, now, timeZone);
    if (scheduled && lastRun.getTime() < scheduled.getTime()) out.push({ job, scheduled, lastRun });
  }
  return out;
}

/** Each scheduled job's next run after now, soonest first. */
export function nextRuns(jobs: ScheduledJob[], now: Date, timeZone: string): Array<{ job: JobName; at: Date }> {
  const out: Array<{ job: JobName; at: Date }> = [];
  for (const { job, cron } of jobs) {
    const at = nextRun(cron, now, timeZone);
    if (at) out.push({ job, at });
  }
  return out.sort((a, b) => a.at.getTime() - b.at.getTime());
}
