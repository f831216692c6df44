import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { RESTORE_STATE_FILE, parseRestoreState, serializeRestoreState, type RestoreState } from '../format/restore-state.js';
import type { Reporter } from '../report/reporter.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { hostName, sendAlerts } from './alerts.js';
import { isStale, procStart } from './lock.js';
import { readRecords } from './records.js';
import { renderMetrics, writeMetrics } from './metrics.js';

/** The state file of a half-restored node (src/format/restore-state.ts) in service.state_dir. */
export function restoreStateFile(stateDir: string): string {
  return path.join(stateDir, RESTORE_STATE_FILE);
}

/** The state, or undefined when no restore is unfinished. */
export async function readRestoreState(stateDir: string): Promise<RestoreState | undefined> {
  let text: string;
  try {
    text = await readFile(restoreStateFile(stateDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return parseRestoreState(text);
}

/** 0600 and atomic: a reader (status, a backup) sees the old state or the new one. */
export async function writeRestoreState(stateDir: string, state: RestoreState): Promise<void> {
  await writeFileAtomic(restoreStateFile(stateDir), serializeRestoreState({ ...state, updated: new Date().toISOString() }), 0o600, 0o700);
}

export async function removeRestoreState(stateDir: string): Promise<void> {
  await rm(restoreStateFile(stateDir), { force: true });
}

/** The fields that say which process writes the state (this one). */
export function thisProcess(): Pick<RestoreState, 'pid' | 'procStart' | 'host'> {
  return { pid: process.pid, procStart: procStart(process.pid), host: os.hostname() };
}

/** Whether the restore that wrote the state is still running (its process is alive). */
export function restoreRunning(state: RestoreState): boolean {
  if (state.pid <= 0) return false;
  return !isStale({ pid: state.pid, host: state.host, procStart: state.procStart, command: 'restore', started: state.started });
}

/**
 * Tells the configured channels once that the node is half-restored: the state remembers that
 * the alert went out, so neither a later failure nor every refused nightly backup pages again.
 * Returns the state as written.
 */
export async function alertHalfRestoredOnce(config: Config, node: string, state: RestoreState, message: string, exitCode: number, reporter: Reporter): Promise<RestoreState> {
  if (state.alertedAt !== null) return state;
  const next = { ...state, alertedAt: new Date().toISOString() };
  await writeRestoreState(config.service.stateDir, next);
  await sendAlerts(config.alerts, { job: 'restore', node, host: hostName(), error: message, exitCode, time: next.alertedAt }, reporter);
  return next;
}

/** Rewrites the metrics file (when configured) so that it says at once whether the node is half-restored. */
export async function refreshMetrics(config: Config, node: string): Promise<void> {
  if (!config.service.metricsFile) return;
  await writeMetrics(config.service.metricsFile, renderMetrics(await readRecords(config.service.stateDir), node, await readRestoreState(config.service.stateDir)));
}
