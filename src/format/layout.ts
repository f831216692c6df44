import { randomBytes } from 'node:crypto';

/**
 * Every key of a repository (docs/design.md, "Repository format"), relative to its prefix:
 *
 *   snapshots/<node>/<snapshot-id>/manifest.json          public metadata, written last
 *   snapshots/<node>/<snapshot-id>/details.json.age       figures, versions, binlog, file list
 *   snapshots/<node>/<snapshot-id>/files.tar.zst.age      node files with owners and modes
 *   snapshots/<node>/<snapshot-id>/grants.sql.zst.age     accounts and grants
 *   snapshots/<node>/<snapshot-id>/db/<db>/schema.sql.zst.age
 *   snapshots/<node>/<snapshot-id>/db/<db>/<table>.NNNN.sql.zst.age
 *   snapshots/<node>/<snapshot-id>/db/<db>/objects.sql.zst.age
 *   snapshots/<node>/<snapshot-id>/drills/<time>.json     drill reports
 *   cdr/<node>/<path under cdrexport>.zst.age             shipped CDR export files
 *   cdr/<node>/damaged/<path>.zst.age                     damaged ones, aside
 *   cdr/<node>/.shipped/<time>-<rand>.json                the record of what was shipped
 */
export type SnapshotKind = 'nightly' | 'manual' | 'pre-upgrade' | 'safety' | 'half-restored';
export const SNAPSHOT_KINDS: SnapshotKind[] = ['nightly', 'manual', 'pre-upgrade', 'safety', 'half-restored'];

/** Sorts by time: 20261121T023000Z-nightly-3f9a. */
export function newSnapshotId(now: Date, kind: SnapshotKind): string {
  return `${compactTime(now)}-${kind}-${randomBytes(2).toString('hex')}`;
}

export const SNAPSHOT_ID = /^\d{8}T\d{6}Z-[a-z-]+-[0-9a-f]{4}$/;

/** Whether the id is that of a safety snapshot (taken by restore before it changes the node). */
export function isSafetySnapshotId(id: string): boolean {
  return /-safety-[0-9a-f]{4}$/.test(id);
}

/**
 * Whether the id is that of a snapshot of a half-restored node (`backup --allow-half-restored`
 * while a restore was unfinished): never "the latest", never counted with the good ones.
 */
export function isHalfRestoredSnapshotId(id: string): boolean {
  return /-half-restored-[0-9a-f]{4}$/.test(id);
}

export function snapshotTime(id: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(id);
  if (!m) throw new Error(`not a snapshot id: ${id}`);
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
}

/** 20261121T023000Z: a time as it appears in ids and keys. */
export function compactTime(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
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

/** A snapshot key's node, id and the rest (a name relative to the snapshot), or undefined. */
export function parseSnapshotKey(key: string): { node: string; id: string; name: string } | undefined {
  const m = /^snapshots\/([^/]+)\/([^/]+)\/(.+)$/.exec(key);
  if (!m || !SNAPSHOT_ID.test(m[2]!)) return undefined;
  return { node: m[1]!, id: m[2]!, name: m[3]! };
}

export function drillsPrefix(node: string, id: string): string {
  return `${snapshotPrefix(node, id)}drills/`;
}
export function drillKey(node: string, id: string, at: Date): string {
  return `${drillsPrefix(node, id)}${compactTime(at)}.json`;
}
export function isDrillName(name: string): boolean {
  return /^drills\/[^/]+\.json$/.test(name);
}

/** A database or table name as a key segment: safe characters stay, others are %-encoded. */
export function keySegment(name: string): string {
  return name.replace(/[^A-Za-z0-9_$-]/g, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join(''),
  );
}

/** Names of a snapshot's objects, relative to its prefix. */
export const objectNames = {
  details: 'details.json.age',
  files: 'files.tar.zst.age',
  grants: 'grants.sql.zst.age',
  schema: (db: string) => `db/${keySegment(db)}/schema.sql.zst.age`,
  objects: (db: string) => `db/${keySegment(db)}/objects.sql.zst.age`,
  data: (db: string, table: string, chunk: number) => `db/${keySegment(db)}/${keySegment(table)}.${String(chunk).padStart(4, '0')}.sql.zst.age`,
};

export function cdrPrefix(node: string): string {
  return `cdr/${node}/`;
}
/**
 * Where a file is stored: cdr/<node>/<path>.zst.age, damaged files aside under cdr/<node>/damaged/;
 * a file shipped again after it changed (--accept-changed) gets its content's hash in the name,
 * so that what was shipped before stays.
 */
export function cdrObjectKey(node: string, relPath: string, damaged: boolean, version?: string): string {
  return `${cdrPrefix(node)}${damaged ? 'damaged/' : ''}${relPath}${version ? `.${version}` : ''}.zst.age`;
}
export function cdrIndexPrefix(node: string): string {
  return `${cdrPrefix(node)}.shipped/`;
}

/** The prefixes a node's runs write under: what a stale run may have left incomplete uploads in. */
export function nodePrefixes(node: string): string[] {
  return [snapshotsPrefix(node), cdrPrefix(node)];
}
