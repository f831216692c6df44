/**
 * The record of shipped CDR export files (docs/cdr.md). Two copies of the same entries:
 *  - in the repository, one index object per run that shipped, verified or removed something:
 *    cdr/<node>/.shipped/<YYYYMMDDTHHMMSS.mmmZ>-<rand>.json, plaintext JSON like a manifest (paths,
 *    sizes, sha256 of the stored objects; never CDR content). It is the durable record: restore
 *    reads it, and a lost local state is rebuilt from it;
 *  - on the host, a state file (default /var/lib/ngcp-backup/cdr-<node>.json) holding the merged
 *    record, so that a run with nothing new only stats the tree and reads one local file.
 */
import { IntegrityError } from '../errors.js';
import { parseStoredJson } from './json.js';

/** One regular file of the export tree, as a stat shows it (never its content). */
export interface CdrTreeFile {
  /** Relative to the cdrexport directory, '/'-separated, e.g. system/202406/30/sipwise_007_..._0000001234.cdr */
  path: string;
  size: number;
  mtimeMs: number;
  mode: number;
  uid: number;
  gid: number;
  /** Known only once the file was read: whether its last line is the MD5 of the rest. */
  md5Ok?: boolean;
}

/** What was shipped: the file as it was stat'ed, and where and how it is stored. */
export interface CdrRecordEntry extends Omit<CdrTreeFile, 'md5Ok'> {
  /** false: the trailer did not match; stored under damaged/ and never removed locally. */
  md5Ok: boolean;
  /** Key of the stored object, relative to the repository. */
  key: string;
  storedSize: number;
  sha256: string;
  /** sha256 of the file's content as shipped: tells a file whose mtime alone changed from a changed one. */
  contentSha256?: string;
  shippedAt: string;
  /** Last time the stored object was read back and matched storedSize and sha256. */
  verifiedAt?: string;
  /** When the local copy was removed by the policy. */
  removedAt?: string;
  /** When the stored object was removed from the repository by the retention policy. */
  prunedAt?: string;
}

export interface CdrIndex {
  format: 'ngcp-backup-cdr-index';
  version: 1;
  node: string;
  createdAt: string;
  entries: CdrRecordEntry[];
}

/** The host's copy: the merged entries and which index objects they came from. */
export interface CdrState {
  format: 'ngcp-backup-cdr-state';
  version: 1;
  node: string;
  /** Storage location the record belongs to: a state for another repository is not trusted. */
  repository: string;
  /** Index objects already merged into this state. */
  indexes: string[];
  entries: CdrRecordEntry[];
}

export function serializeCdrIndex(index: CdrIndex): Buffer {
  return Buffer.from(JSON.stringify(index) + '\n');
}

export function parseCdrIndex(text: string, where: string): CdrIndex {
  const index = parseStoredJson(text, where) as CdrIndex | null;
  if (index?.format !== 'ngcp-backup-cdr-index' || !Array.isArray(index.entries)) throw new IntegrityError(`${where} is not a CDR index`);
  return index;
}

export function serializeCdrState(state: CdrState): string {
  return JSON.stringify(state);
}

/** The host's state when it is one for this node and repository; undefined otherwise (rebuilt then). */
export function parseCdrState(text: string, node: string, repository: string): CdrState | undefined {
  try {
    const state = JSON.parse(text) as CdrState;
    return state?.format === 'ngcp-backup-cdr-state' && state.node === node && state.repository === repository ? state : undefined;
  } catch {
    return undefined;
  }
}
