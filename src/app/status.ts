import os from 'node:os';
import type { Config } from '../config/schema.js';
import { readNodeName } from '../ngcp/facts.js';
import { readRecords } from '../service/records.js';
import { snapshotsPrefix } from '../format/layout.js';
import type { Storage } from '../repository/storage.js';
import { currentHolder, type LockHolder } from '../service/lock.js';
import { nextRuns, scheduledJobs } from '../schedule/plan.js';
import { type JobRecord, JOBS, type JobName } from '../format/job-record.js';
import { describeRestoreState } from '../format/restore-state.js';
import { readRestoreState, restoreRunning } from '../service/restore-state.js';

/** What `ngcp-backup status --json` prints. Fields are only ever added, never renamed. */
export interface ServiceStatus {
  format: 'ngcp-backup/status/1';
  node: string;
  host: string;
  time: string;
  timeZone: string;
  lock: (LockHolder & { stale: boolean }) | null;
  jobs: Record<JobName, JobStatus>;
  repository: RepositoryUsage | { location: string; error: string };
  /** A restore that changed this node and has not completed: the node is half-restored. Null when none. */
  restore: HalfRestored | null;
}

export interface HalfRestored {
  halfRestored: true;
  /** The restore still runs (its process is alive); otherwise it failed or was killed. */
  running: boolean;
  snapshot: { id: string; node: string };
  started: string;
  done: string[];
  failed: string | null;
  safetySnapshot: string | null;
  rollbackCommand: string | null;
  /** Databases the rollback drops (the restore created them). */
  createdDatabases: string[];
  description: string;
}

export interface JobStatus {
  /** The cron expression, "after each successful backup" for prune, or null: not scheduled. */
  schedule: string | null;
  next: string | null;
  last: JobRecord['last'] | null;
  lastSuccess: JobRecord['lastSuccess'];
  consecutiveFailures: number;
  failuresTotal: number;
}

export interface RepositoryUsage {
  location: string;
  snapshots: number;
  snapshotBytes: number;
  cdrFiles: number;
  cdrBytes: number;
}

export async function gatherStatus(config: Config, storage: Storage, now: Date): Promise<{ status: ServiceStatus; repositoryError?: unknown }> {
  const node = await readNodeName(config.node.root, config.node.name);
  const records = await readRecords(config.service.stateDir);
  const jobs = scheduledJobs(config.schedule);
  const next = nextRuns(jobs, now, config.schedule.timeZone);
  const schedules: Record<JobName, string | null> = {
    backup: config.schedule.backup ?? null,
    'cdr-ship': config.schedule.cdrShip ?? null,
    drill: config.schedule.drill ?? null,
    prune: config.schedule.backup && config.schedule.pruneAfterBackup ? 'after each successful backup' : null,
  };
  const jobStatus = Object.fromEntries(
    JOBS.map((job): [JobName, JobStatus] => {
      const r = records[job];
      return [
        job,
        {
          schedule: schedules[job],
          next: next.find((n) => n.job === job)?.at.toISOString() ?? null,
          last: r?.last ?? null,
          lastSuccess: r?.lastSuccess ?? null,
          consecutiveFailures: r?.consecutiveFailures ?? 0,
          failuresTotal: r?.failuresTotal ?? 0,
        },
      ];
    }),
  ) as Record<JobName, JobStatus>;
  let repository: ServiceStatus['repository'];
  let repositoryError: unknown;
  try {
    repository = await repositoryUsage(storage, node);
  } catch (error) {
    repositoryError = error;
    repository = { location: storage.location, error: (error as Error).message };
  }
  const state = await readRestoreState(config.service.stateDir);
  const running = state ? restoreRunning(state) : false;
  const restore: HalfRestored | null = state
    ? {
        halfRestored: true,
        running,
        snapshot: state.snapshot,
        started: state.started,
        done: state.done,
        failed: state.failed,
        safetySnapshot: state.safetySnapshot?.id ?? null,
        rollbackCommand: state.rollbackCommand,
        createdDatabases: state.createdDatabases,
        description: describeRestoreState(state, running),
      }
    : null;
  return {
    status: {
      format: 'ngcp-backup/status/1',
      node,
      host: os.hostname(),
      time: now.toISOString(),
      timeZone: config.schedule.timeZone,
      lock: (await currentHolder(config.service.lockDir)) ?? null,
      jobs: jobStatus,
      repository,
      restore,
    },
    repositoryError,
  };
}

/** One listing of each of the node's two prefixes. */
export async function repositoryUsage(storage: Storage, node: string): Promise<RepositoryUsage> {
  await storage.check();
  const usage: RepositoryUsage = { location: storage.location, snapshots: 0, snapshotBytes: 0, cdrFiles: 0, cdrBytes: 0 };
  const prefix = snapshotsPrefix(node);
  for await (const o of storage.list(prefix)) {
    usage.snapshotBytes += o.size;
    if (/^[^/]+\/manifest\.json$/.test(o.key.slice(prefix.length))) usage.snapshots++;
  }
  for await (const o of storage.list(`cdr/${node}/`)) {
    usage.cdrBytes += o.size;
    usage.cdrFiles++;
  }
  return usage;
}
