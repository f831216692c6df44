import { randomBytes } from 'node:crypto';

/**
 * Where things live in a repository (DESIGN.md "Repository layout"). Keys are relative to
 * the repository's prefix.
 */
export type SnapshotKind = 'nightly' | 'manual' | 'pre-upgrade' | 'safety';
export const SNAPSHOT_KINDS: SnapshotKind[] = ['nightly', 'manual', 'pre-upgrade', 'safety'];

/** Sorts by time: 20261121T023000Z-nightly-3f9a. */
export function newSnapshotId(now: Date, kind: SnapshotKind): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${kind}-${randomBytes(2).toString('hex')}`;
}

export const SNAPSHOT_ID = /^\d{8}T\d{6}Z-[a-z-]+-[0-9a-f]{4}$/;

export function snapshotTime(id: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(id);
  if (!m) throw new Error(`not a snapshot id: ${id}`);
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
}

export function snapshotsPrefix(node?: string): string {
  return node ? `snapshots/${node}/` : 'snapshots/';
}
export function snapshotPrefix(node: string, id: string): string {
  return `snapshots/${node}/${id}/`;
}
export function manifestKey(node: string, id: string): string {
  return `${snapshotPrefix(node, id)}manifest.json`;
}

/** A database or table name as a key segment: safe characters stay, others are %-encoded. */
export function keySegment(name: string): string {
  return name.replace(/[^A-Za-z0-9_$-]/g, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join(''),
  );
}

export const objectNames = {
  details: 'details.json.age',
  files: 'files.tar.zst.age',
  grants: 'grants.sql.zst.age',
  schema: (db: string) => `db/${keySegment(db)}/schema.sql.zst.age`,
  objects: (db: string) => `db/${keySegment(db)}/objects.sql.zst.age`,
  data: (db: string, table: string, chunk: number) => `db/${keySegment(db)}/${keySegment(table)}.${String(chunk).padStart(4, '0')}.sql.zst.age`,
};
