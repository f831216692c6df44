/**
 * The node's memory of a restore that has changed it but not finished
 * (service.state_dir/restore-state.json): written before the first change to the node, updated
 * as steps complete, removed when a restore completes or the rollback does. While it exists the
 * node is half-restored: status, the metrics and alerts say so, backups refuse, and the next
 * restore offers the rollback (docs/restore.md, "An interrupted restore").
 */
export const RESTORE_STATE_FORMAT = 'ngcp-backup/restore-state/1';
export const RESTORE_STATE_FILE = 'restore-state.json';

export interface RestoreState {
  format: typeof RESTORE_STATE_FORMAT;
  /** The snapshot being restored. */
  snapshot: { id: string; node: string };
  /** What it restores: whole node (files and every database) or a part. */
  selection: { files: boolean; databases: string[]; table: string | null };
  /** What a rollback restores: the node as it was before the first restore changed it. */
  safetySnapshot: { id: string; node: string } | null;
  /** The command that rolls back, as the operator runs it; null without a safety snapshot. */
  rollbackCommand: string | null;
  /** Databases the restore created that the node did not have: a rollback drops them. */
  createdDatabases: string[];
  /** The process that changes the node (its liveness tells running from interrupted). */
  pid: number;
  procStart?: string;
  host: string;
  started: string;
  updated: string;
  /** Steps finished (node files, databases, ngcpcfg apply). */
  done: string[];
  /** The restore's error when it failed; null while it runs or when it was killed. */
  failed: string | null;
  /** When the alert about this half-restored node was sent (alerts fire once). */
  alertedAt: string | null;
  /** Its download in restore.work_dir (removed by the next run that holds the lock). */
  download: string | null;
}

export function serializeRestoreState(state: RestoreState): string {
  return JSON.stringify(state, null, 2) + '\n';
}

/**
 * The state, or a minimal one when the file is not readable as one: a damaged file must still
 * keep backups from running, never be read as "not half-restored".
 */
export function parseRestoreState(text: string): RestoreState {
  let s: Partial<RestoreState> | null = null;
  try {
    s = JSON.parse(text) as Partial<RestoreState> | null;
  } catch {
    // falls through to the minimal state
  }
  if (s?.format === RESTORE_STATE_FORMAT && s.snapshot && typeof s.snapshot.id === 'string') {
    return { ...unreadable(), ...s } as RestoreState;
  }
  return unreadable();
}

function unreadable(): RestoreState {
  return {
    format: RESTORE_STATE_FORMAT,
    snapshot: { id: '(unknown: the restore state file is unreadable)', node: '?' },
    selection: { files: true, databases: [], table: null },
    safetySnapshot: null,
    rollbackCommand: null,
    createdDatabases: [],
    pid: 0,
    host: '?',
    started: '?',
    updated: '?',
    done: [],
    failed: 'the restore state file is unreadable',
    alertedAt: null,
    download: null,
  };
}

/** How the operator is told, in one line: what was being restored and how it ended. */
export function describeRestoreState(state: RestoreState, running: boolean): string {
  const what = `restore of snapshot ${state.snapshot.id} (node ${state.snapshot.node}) started ${state.started}`;
  const how = running ? `still running (pid ${state.pid})` : state.failed !== null ? `failed: ${state.failed.split('\n')[0]}` : `interrupted (its process ${state.pid} is gone)`;
  const done = state.done.length ? `; restored before it stopped: ${state.done.join(', ')}` : '';
  return `${what}, ${how}${done}`;
}
