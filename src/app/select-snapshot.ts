import { UsageError } from '../errors.js';
import { isHalfRestoredSnapshotId, isSafetySnapshotId } from '../format/layout.js';
import type { Manifest } from '../format/manifest.js';
import { listSnapshots, readManifest, type SnapshotRef } from '../repository/snapshots.js';
import type { Storage } from '../repository/storage.js';

/** Which snapshot a command works on: an explicit id, or the newest with --latest. */
export interface SnapshotChoice {
  id?: string;
  latest?: boolean;
}

/**
 * The snapshot of `node` that `choice` names. "The latest" is the newest snapshot that is not a
 * safety snapshot (those are taken by restore itself, not what "the latest backup" means) nor
 * one of a half-restored node (`backup --allow-half-restored`): the
 * one rule for `--latest` of every command and for the daemon's drill.
 */
export async function selectSnapshot(storage: Storage, node: string, choice: SnapshotChoice, command: string): Promise<SnapshotRef> {
  const { id, latest = false } = choice;
  if (id && latest) throw new UsageError(`ngcp-backup ${command}: give a snapshot id or --latest, not both`);
  if (!id && !latest) throw new UsageError(`ngcp-backup ${command}: give a snapshot id or --latest`);
  const refs = await listSnapshots(storage, node);
  if (latest) {
    const newest = refs.filter((r) => !isSafetySnapshotId(r.id) && !isHalfRestoredSnapshotId(r.id)).at(-1);
    if (!newest) throw new UsageError(`no snapshot of node ${node} in ${storage.location}`);
    return newest;
  }
  const found = refs.find((r) => r.id === id);
  if (!found) throw new UsageError(`no snapshot ${id} of node ${node} in ${storage.location} (see ngcp-backup list)`);
  return found;
}

/** The manifest of the chosen snapshot (the repository checked first). */
export async function openSnapshot(storage: Storage, node: string, choice: SnapshotChoice, command: string): Promise<Manifest> {
  await storage.check();
  const ref = await selectSnapshot(storage, node, choice, command);
  return readManifest(storage, ref.node, ref.id);
}
