import { IntegrityError } from '../errors.js';
import { parseStoredJson } from './json.js';
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
  const m = parseStoredJson(text, where) as Manifest | null;
  if (m?.format !== MANIFEST_FORMAT || !Array.isArray(m.objects) || typeof m.id !== 'string') {
    throw new IntegrityError(`${where} is not an ngcp-backup manifest (format ${JSON.stringify(m?.format)})`);
  }
  return m;
}
