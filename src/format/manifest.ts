import { text } from 'node:stream/consumers';
import { IntegrityError } from '../errors.js';
import type { Storage } from '../repository/storage.js';
import { manifestKey, SNAPSHOT_ID, snapshotsPrefix } from './layout.js';
import type { SnapshotKind } from './layout.js';

export const MANIFEST_FORMAT = 'ngcp-backup/manifest/1';

export type ObjectRole = 'details' | 'files' | 'grants' | 'schema' | 'objects' | 'data';

/** One stored object: what verify checks with nothing but read access. */
export interface ManifestObject {
  /** Relative to the snapshot's prefix. */
  name: string;
  role: ObjectRole;
  size: number;
  sha256: string;
  /** Bytes before compression and encryption. */
  rawSize: number;
  database?: string;
  table?: string;
  chunk?: number;
}

/**
 * Public metadata, written last: a snapshot exists only once this is in the repository.
 * Holds no secret (recipients are public keys; figures and file lists are in details).
 */
export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  node: string;
  kind: SnapshotKind;
  note: string | null;
  startedAt: string;
  finishedAt: string;
  tool: { name: 'ngcp-backup'; version: string };
  ngcpVersion: string;
  mariadbVersion: string;
  recipients: string[];
  compression: 'zstd';
  encryption: 'age';
  databases: string[];
  summary: {
    tables: number;
    rows: number;
    rawBytes: number;
    storedBytes: number;
    lockMs: number;
    durationMs: number;
  };
  objects: ManifestObject[];
}

export function serializeManifest(m: Manifest): Buffer {
  return Buffer.from(JSON.stringify(m, null, 2) + '\n', 'utf8');
}

export function parseManifest(text: string, where: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch {
    throw new IntegrityError(`${where} is not valid JSON`);
  }
  if (m?.format !== MANIFEST_FORMAT || !Array.isArray(m.objects) || typeof m.id !== 'string') {
    throw new IntegrityError(`${where} is not an ngcp-backup manifest (format ${JSON.stringify(m?.format)})`);
  }
  return m;
}

export async function readManifest(storage: Storage, node: string, id: string): Promise<Manifest> {
  const key = manifestKey(node, id);
  return parseManifest(await text(await storage.get(key)), `${storage.location}/${key}`);
}

export interface SnapshotRef {
  node: string;
  id: string;
}

/** Every snapshot that has a manifest (complete snapshots only), oldest first. */
export async function listSnapshots(storage: Storage, node?: string): Promise<SnapshotRef[]> {
  const refs: SnapshotRef[] = [];
  for await (const o of storage.list(snapshotsPrefix(node))) {
    const m = /^snapshots\/([^/]+)\/([^/]+)\/manifest\.json$/.exec(o.key);
    if (m && SNAPSHOT_ID.test(m[2]!)) refs.push({ node: m[1]!, id: m[2]! });
  }
  return refs.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.node.localeCompare(b.node)));
}
