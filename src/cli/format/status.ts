import type { JobStatus, ServiceStatus } from '../../app/status.js';
import { JOBS } from '../../format/job-record.js';
import { describeHolder } from '../../service/lock.js';
import { formatSize as formatBytes } from '../../report/progress.js';

/** `ngcp-backup status` as text: the lock, each job's last and next run, the repository's usage. */
export function formatStatus(s: ServiceStatus): string {
  const lines = [`node ${s.node} on host ${s.host}, ${s.time} (schedules in ${s.timeZone})`];
  if (s.restore) {
    const r = s.restore;
    lines.push(
      `HALF-RESTORED: ${r.description}`,
      `  safety snapshot: ${r.safetySnapshot ?? 'none (the restore ran with --no-safety-snapshot)'}`,
      r.rollbackCommand ? `  to roll back:    ${r.rollbackCommand}` : '  to complete:     restore a snapshot (there is no safety snapshot to roll back to)',
      ...(r.createdDatabases.length ? [`  the rollback drops the databases the restore created: ${r.createdDatabases.join(', ')}`] : []),
      r.running ? '  backups refuse while it runs' : '  backups refuse until it is rolled back or a restore completes (backup --allow-half-restored takes one anyway, marked half-restored)',
    );
  }
  lines.push(s.lock ? `lock: held by ${describeHolder(s.lock)}${s.lock.stale ? ' (stale: its process is gone; the next run takes it over)' : ''}` : 'lock: free');
  for (const job of JOBS) lines.push(formatJob(job, s.jobs[job]));
  const r = s.repository;
  lines.push(
    'error' in r
      ? `repository ${r.location}: ${r.error}`
      : `repository ${r.location}: ${r.snapshots} snapshot(s), ${formatBytes(r.snapshotBytes)}; ${r.cdrFiles} CDR object(s), ${formatBytes(r.cdrBytes)}`,
  );
  return lines.join('\n') + '\n';
}

function formatJob(job: string, j: JobStatus): string {
  const head = `${job.padEnd(8)}  `;
  const last = j.last
    ? `last ${j.last.result === 'ok' ? 'OK' : `FAILED (exit ${j.last.exitCode})`} ${j.last.finished}, ${(j.last.durationMs / 1000).toFixed(1)} s` +
      (j.last.bytes !== null ? `, ${formatBytes(j.last.bytes)}` : '') +
      (j.last.snapshot ? `, ${j.last.snapshot}` : '')
    : 'never ran';
  const failing = j.consecutiveFailures > 0 ? `; ${j.consecutiveFailures} failure(s) in a row, last success ${j.lastSuccess?.finished ?? 'never'}${j.last?.error ? `: ${j.last.error}` : ''}` : '';
  const next = j.schedule === null ? 'not scheduled' : j.next ? `next ${j.next} (${j.schedule})` : j.schedule;
  return `${head}${last}${failing}\n${' '.repeat(10)}${next}`;
}
