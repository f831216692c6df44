import { createHash, randomBytes } from 'node:crypto';
import type { PlanInput } from '../../src/retention/policy.js';
import { manifestKey, snapshotPrefix, type SnapshotKind } from '../../src/format/layout.js';
import { MANIFEST_FORMAT, serializeManifest, type Manifest } from '../../src/format/manifest.js';
import type { Storage } from '../../src/repository/storage.js';

/** Snapshots with chosen times and kinds, seeded straight into a repository (no MariaDB). */

export const NODE = 'spce';

export interface Seeded extends PlanInput {
  kind: SnapshotKind;
  keys: string[];
}

export const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

export function snapshotAt(start: Date, kind: SnapshotKind): Seeded {
  const id = `${stamp(start)}-${kind}-${createHash('sha256').update(start.toISOString() + kind).digest('hex').slice(0, 4)}`;
  return { id, kind, finishedAt: new Date(start.getTime() + 10 * 60_000).toISOString(), keys: [] };
}

/** A year of snapshots: a nightly every third day, pre-upgrade and manual ones. */
export function yearOfSnapshots(now: Date): Seeded[] {
  const out: Seeded[] = [];
  for (let t = Date.parse('2025-11-21T02:30:00Z'); t <= now.getTime(); t += 3 * 86_400_000) out.push(snapshotAt(new Date(t), 'nightly'));
  for (const d of ['2025-12-10T14:00:00Z', '2026-02-03T09:12:00Z', '2026-04-15T20:40:00Z', '2026-06-01T07:00:00Z', '2026-07-20T18:30:00Z', '2026-08-30T10:00:00Z', '2026-10-28T16:45:00Z']) {
    out.push(snapshotAt(new Date(d), 'pre-upgrade'));
  }
  for (const d of ['2026-03-01T10:00:00Z', '2026-10-20T09:00:00Z', '2026-11-20T15:00:00Z']) out.push(snapshotAt(new Date(d), 'manual'));
  return out;
}

export function manifestFor(s: Seeded, objects: Array<{ name: string; body: Buffer }>): Manifest {
  return {
    format: MANIFEST_FORMAT,
    id: s.id,
    node: NODE,
    kind: s.kind,
    note: null,
    startedAt: new Date(Date.parse(s.finishedAt) - 600_000).toISOString(),
    finishedAt: s.finishedAt,
    tool: { name: 'ngcp-backup', version: 'test' },
    ngcpVersion: 'mr13.5',
    mariadbVersion: '10.11',
    recipients: [],
    compression: 'zstd',
    encryption: 'age',
    databases: ['accounting'],
    summary: { tables: 1, rows: 1, rawBytes: 1, storedBytes: 1, lockMs: 1, durationMs: 1 },
    objects: objects.map((o) => ({ name: o.name, role: o.name.startsWith('db/') ? 'data' : 'details', size: o.body.length, sha256: createHash('sha256').update(o.body).digest('hex'), rawSize: 1 })),
  };
}

/** Writes objects, then the manifest (last, as backup does), and a drill report when asked. */
export async function seed(storage: Storage, snaps: Seeded[], passedDrill: Set<string> = new Set()): Promise<void> {
  const queue = [...snaps];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let s = queue.shift(); s; s = queue.shift()) {
        const objects = [
          { name: 'details.json.age', body: randomBytes(32) },
          { name: 'db/accounting/cdr.0000.sql.zst.age', body: randomBytes(64) },
        ];
        const prefix = snapshotPrefix(NODE, s.id);
        for (const o of objects) await storage.put(prefix + o.name, o.body);
        await storage.put(manifestKey(NODE, s.id), serializeManifest(manifestFor(s, objects)));
        s.keys = [...objects.map((o) => prefix + o.name), manifestKey(NODE, s.id)];
        if (passedDrill.has(s.id)) {
          const key = `${prefix}drills/20261121T000000Z.json`;
          await storage.put(key, Buffer.from(JSON.stringify({ format: 'ngcp-backup/drill/1', ok: true })));
          s.keys.push(key);
        }
      }
    }),
  );
}

