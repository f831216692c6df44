import { parseDrillReport, type DrillReport } from '../format/drill-report.js';
import { manifestKey, parseSnapshotKey, snapshotsPrefix } from '../format/layout.js';
import { parseManifest, type Manifest } from '../format/manifest.js';
import { readText } from './read.js';
import type { Storage } from './storage.js';

/** Reading a repository's snapshots: their manifests and drill reports. */
export interface SnapshotRef {
  node: string;
  id: string;
}

export async function readManifest(storage: Storage, node: string, id: string): Promise<Manifest> {
  const key = manifestKey(node, id);
  return parseManifest(await readText(storage, key), `${storage.location}/${key}`);
}

/** Every snapshot that has a manifest (complete snapshots only), oldest first. */
export async function listSnapshots(storage: Storage, node?: string): Promise<SnapshotRef[]> {
  const refs: SnapshotRef[] = [];
  for await (const o of storage.list(snapshotsPrefix(node))) {
    const k = parseSnapshotKey(o.key);
    if (k && k.name === 'manifest.json') refs.push({ node: k.node, id: k.id });
  }
  return refs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.node.localeCompare(b.node)));
}

/**
 * The newest drill report among `keys` that passed: what "last proven restorable" means, for
 * `list` and for prune (which never removes the newest proven snapshot). A report that cannot
 * be read or parsed proves nothing.
 */
export async function newestPassedDrill(storage: Storage, keys: string[]): Promise<DrillReport | undefined> {
  for (const key of [...keys].sort().reverse()) {
    const report = await readText(storage, key).then(parseDrillReport, () => undefined);
    if (report?.ok === true) return report;
  }
  return undefined;
}
