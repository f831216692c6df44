/**
 * The encrypted half of a snapshot's metadata (details.json.age): per-table figures, versions,
 * binlog coordinates, the file list. Figures are taken inside the snapshot and recomputed after
 * every restore (docs/design.md, "The proof").
 */
import { IntegrityError } from '../errors.js';
import { parseStoredJson } from './json.js';
import type { NodeFileEntry } from './files-index.js';

export const DETAILS_FORMAT = 'ngcp-backup/details/1';

/** Where the binary log stood at the snapshot's instant (SHOW MASTER STATUS, gtid_binlog_pos). */
export interface BinlogPosition {
  file: string;
  position: number;
  gtid: string;
}

/** Per-table (or per-chunk) figures: recomputed and compared after every restore. */
export interface TableFigures {
  rows: number;
  /** Sum over rows of CRC32(row text), as a decimal string: order-independent. */
  checksum: string;
}

export interface ChunkDetails extends TableFigures {
  name: string;
  /** The WHERE condition that selected the chunk (for the record). */
  range: string | null;
}

export interface TableDetails extends Partial<TableFigures> {
  name: string;
  kind: 'table' | 'sequence' | 'view';
  engine: string | null;
  /** False for MERGE tables and the like: their rows are in (and verified with) their bases. */
  hasData: boolean;
  /** SQL that renders one row the way the dump did: recompute figures with SUM(CRC32(...)). */
  rowExpression?: string;
  chunks?: ChunkDetails[];
}

/** How many views, routines, triggers and events a database has (what a restore must recreate). */
export interface ObjectCounts {
  views: number;
  routines: number;
  triggers: number;
  events: number;
}

export interface DatabaseDetails {
  name: string;
  charset: string;
  collation: string;
  tables: TableDetails[];
  objects: ObjectCounts;
}

export interface SnapshotDetails {
  format: typeof DETAILS_FORMAT;
  id: string;
  node: string;
  ngcpVersion: string;
  mariadbVersion: string;
  binlog: BinlogPosition | null;
  lockMs: number;
  databases: DatabaseDetails[];
  grants: string[];
  files: NodeFileEntry[];
}

export function serializeDetails(details: SnapshotDetails): Buffer {
  return Buffer.from(JSON.stringify(details));
}

export function parseDetails(text: string, where: string): SnapshotDetails {
  const d = parseStoredJson(text, where) as SnapshotDetails | null;
  if (d?.format !== DETAILS_FORMAT || !Array.isArray(d.databases)) {
    throw new IntegrityError(`${where} is not an ngcp-backup details object (format ${JSON.stringify(d?.format)})`);
  }
  return d;
}
