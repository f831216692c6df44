import { text } from 'node:stream/consumers';
import { snapshotPrefix } from './layout.js';
import type { Manifest } from './manifest.js';
import type { Storage } from '../repository/storage.js';

export const DRILL_FORMAT = 'ngcp-backup/drill/1';

/** Public (no row data): stored next to the snapshot as drills/<time>.json. */
export interface DrillReport {
  format: typeof DRILL_FORMAT;
  snapshot: string;
  node: string;
  startedAt: string;
  durationMs: number;
  ok: boolean;
  tablesChecked: number;
  tableMismatches: string[];
  objectMismatches: string[];
  restoredBytes: number;
}

export function drillKey(manifest: Manifest, at: Date): string {
  return `${snapshotPrefix(manifest.node, manifest.id)}drills/${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.json`;
}

/**
 * The newest drill report among `keys` that passed: what "last proven restorable" means, for
 * `list` and for prune (which never removes the newest proven snapshot). A report that cannot
 * be read or parsed proves nothing.
 */
export async function newestPassedDrill(storage: Storage, keys: string[]): Promise<DrillReport | undefined> {
  for (const key of [...keys].sort().reverse()) {
    try {
      const report = JSON.parse(await text(await storage.get(key))) as DrillReport | null;
      if (report?.ok === true) return report;
    } catch {
      // unreadable: look at the next older one
    }
  }
  return undefined;
}
