import { gatherStatus, type JobStatus, type ServiceStatus } from '../app/status.js';
import { describeHolder } from '../service/lock.js';
import { JOBS } from '../schedule/plan.js';
import { parseFlags } from './args.js';
import { COMMON_OPTIONS, formatBytes, openContext, type CliEnv } from './context.js';

export const usage = `Usage: ngcp-backup status [--json] [--config FILE]
Shows the last run of each job (backup, cdr-ship, prune, drill) with its result, time,
duration and size, the next scheduled runs, who holds the lock, and the repository usage of
this node. Reads the run records in service.state_dir; changes nothing.
Exits 0, or with the repository's exit code (10, 13) when it cannot be read.`;

export async function run(env: CliEnv): Promise<number> {
  const { values } = parseFlags('status', env.args, COMMON_OPTIONS);
  if (values.help) {
    env.stdout.write(usage + '\n');
    return 0;
  }
  const ctx = await openContext(env, values);
  const { status, repositoryError } = await gatherStatus(ctx.config, ctx.storage, new Date());
  env.stdout.write(values.json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status));
  if (repositoryError) throw repositoryError;
  return 0;
}

function formatStatus(s: ServiceStatus): string {
  const lines = [`node ${s.node} on host ${s.host}, ${s.time} (schedules in ${s.timeZone})`];
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
