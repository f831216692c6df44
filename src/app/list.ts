import { drillsPrefix } from '../format/layout.js';
import type { Manifest } from '../format/manifest.js';
import { listSnapshots, newestPassedDrill, readManifest } from '../repository/snapshots.js';
import type { Storage } from '../repository/storage.js';

export interface ListedSnapshot {
  manifest: Manifest;
  /** When the snapshot was last proven restorable (its newest passed drill), or null. */
  provenAt: string | null;
}

/** `ngcp-backup list`: every complete snapshot, oldest first, with when it was last proven. */
export async function listWithProof(storage: Storage): Promise<ListedSnapshot[]> {
  await storage.check();
  const out: ListedSnapshot[] = [];
  for (const ref of await listSnapshots(storage)) {
    const manifest = await readManifest(storage, ref.node, ref.id);
    const reports: string[] = [];
    for await (const o of storage.list(drillsPrefix(ref.node, ref.id))) reports.push(o.key);
    const passed = await newestPassedDrill(storage, reports);
    out.push({ manifest, provenAt: passed?.startedAt ?? null });
  }
  return out;
}
