import { writeFileAtomic } from '../util/atomic-file.js';
import { JOBS, type JobRecords } from '../format/job-record.js';
import type { RestoreState } from '../format/restore-state.js';

/**
 * The job records as a Prometheus node_exporter textfile (text exposition format 0.0.4).
 * Pure; writeMetrics puts it in place atomically so the exporter never reads half a file.
 */
export function renderMetrics(records: JobRecords, node: string, restore?: RestoreState): string {
  const families: Array<{ name: string; help: string; type: 'gauge' | 'counter'; samples: Array<[string, number]> }> = [
    { name: 'ngcp_backup_last_success_timestamp_seconds', help: 'Unix time the job last finished successfully.', type: 'gauge', samples: [] },
    { name: 'ngcp_backup_last_run_timestamp_seconds', help: 'Unix time the job last finished, successfully or not.', type: 'gauge', samples: [] },
    { name: 'ngcp_backup_last_duration_seconds', help: 'Duration of the last run of the job.', type: 'gauge', samples: [] },
    { name: 'ngcp_backup_last_bytes', help: 'Bytes stored (backup, cdr-ship) by the last run of the job.', type: 'gauge', samples: [] },
    { name: 'ngcp_backup_last_success', help: '1 if the last run of the job succeeded, 0 if it failed.', type: 'gauge', samples: [] },
    { name: 'ngcp_backup_last_exit_code', help: 'Exit code of the last run of the job (docs/exit-codes.md).', type: 'gauge', samples: [] },
    { name: 'ngcp_backup_failures_total', help: 'Failed runs of the job since the state directory was created.', type: 'counter', samples: [] },
    { name: 'ngcp_backup_consecutive_failures', help: 'Failed runs of the job since its last success.', type: 'gauge', samples: [] },
    { name: 'ngcp_backup_write_lock_seconds', help: 'Seconds the last successful backup held the global read lock.', type: 'gauge', samples: [] },
    {
      name: 'ngcp_backup_restore_incomplete',
      help: '1 while a restore that changed the node has not completed (interrupted or failed: backups refuse; roll back with the rollback command), else 0.',
      type: 'gauge',
      samples: [],
    },
  ];
  const add = (name: string, labels: string, value: number) => families.find((f) => f.name === name)!.samples.push([labels, value]);
  for (const job of JOBS) {
    const r = records[job];
    if (!r) continue;
    const labels = `{job="${job}",node="${escapeLabel(node)}"}`;
    if (r.lastSuccess) add('ngcp_backup_last_success_timestamp_seconds', labels, seconds(r.lastSuccess.finished));
    add('ngcp_backup_last_run_timestamp_seconds', labels, seconds(r.last.finished));
    add('ngcp_backup_last_duration_seconds', labels, r.last.durationMs / 1000);
    if (r.last.bytes !== null) add('ngcp_backup_last_bytes', labels, r.last.bytes);
    add('ngcp_backup_last_success', labels, r.last.result === 'ok' ? 1 : 0);
    add('ngcp_backup_last_exit_code', labels, r.last.exitCode);
    add('ngcp_backup_failures_total', labels, r.failuresTotal);
    add('ngcp_backup_consecutive_failures', labels, r.consecutiveFailures);
    if (job === 'backup' && r.lastSuccess?.lockMs != null) add('ngcp_backup_write_lock_seconds', `{node="${escapeLabel(node)}"}`, r.lastSuccess.lockMs / 1000);
  }
  const halfRestored = restore
    ? `{node="${escapeLabel(node)}",snapshot="${escapeLabel(restore.snapshot.id)}",safety_snapshot="${escapeLabel(restore.safetySnapshot?.id ?? '')}",rollback="${escapeLabel(restore.rollbackCommand ?? '')}"}`
    : `{node="${escapeLabel(node)}"}`;
  add('ngcp_backup_restore_incomplete', halfRestored, restore ? 1 : 0);
  return families
    .filter((f) => f.samples.length > 0)
    .map((f) => [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.samples.map(([l, v]) => `${f.name}${l} ${v}`)].join('\n'))
    .join('\n') + '\n';
}

/** World-readable (the exporter runs as another user); it holds no secret. */
export async function writeMetrics(file: string, text: string): Promise<void> {
  await writeFileAtomic(file, text, 0o644);
}

function seconds(iso: string): number {
  return Math.round(Date.parse(iso) / 1000);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
