/**
 * The pure part of CDR shipping: which files of the export tree to ship, which to leave alone.
 * No I/O here, so that the rules (NGCP.md "CDR export files") are tested without a tree.
 */
import type { CdrRecordEntry } from './record.js';

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

export interface CdrShippingPlan {
  /** Complete files not shipped yet (trailer not checked yet, or checked and good). */
  ship: CdrTreeFile[];
  /** Files still being written (`<name>.<pid>`): never shipped. */
  skipInProgress: CdrTreeFile[];
  /** Files whose trailer is known not to match and that were not shipped aside yet. */
  damaged: CdrTreeFile[];
  /** Files the record holds with the same size and mtime: nothing to do. */
  alreadyShipped: CdrTreeFile[];
  /** Files the record holds with another size or mtime: an export file changed after shipping. Never shipped again automatically, never removed. */
  changed: Array<{ file: CdrTreeFile; recorded: CdrRecordEntry }>;
}

/** `<name>.<digits>`: the exporter writes `<name>.<pid>`, then renames it. */
export function isInProgress(relPath: string): boolean {
  return /\.\d+$/.test(relPath);
}

export function planCdrShipping(tree: Iterable<CdrTreeFile>, record: ReadonlyMap<string, CdrRecordEntry>): CdrShippingPlan {
  const plan: CdrShippingPlan = { ship: [], skipInProgress: [], damaged: [], alreadyShipped: [], changed: [] };
  for (const file of tree) {
    if (isInProgress(file.path)) {
      plan.skipInProgress.push(file);
      continue;
    }
    const recorded = record.get(file.path);
    if (recorded) {
      if (recorded.size === file.size && Math.trunc(recorded.mtimeMs) === Math.trunc(file.mtimeMs)) plan.alreadyShipped.push(file);
      else plan.changed.push({ file, recorded });
      continue;
    }
    if (file.md5Ok === false) plan.damaged.push(file);
    else plan.ship.push(file);
  }
  const byPath = (a: CdrTreeFile, b: CdrTreeFile): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  plan.ship.sort(byPath);
  plan.damaged.sort(byPath);
  return plan;
}

/**
 * The day a CDR export file belongs to (UTC, YYYY-MM-DD): the timestamp in its name
 * (`<prefix>_<version>_<YYYYMMDDHHMMSS>_<seq>.cdr`), else the YYYYMM/DD directories, else undefined.
 */
export function cdrFileDay(relPath: string): string | undefined {
  const base = relPath.slice(relPath.lastIndexOf('/') + 1);
  const m = /_(\d{4})(\d{2})(\d{2})\d{6}_\d+\.[a-z]+$/.exec(base);
  if (m) return `${m[1]}-${m[2]}-${m[3]}`;
  const d = /(?:^|\/)(\d{4})(\d{2})\/(\d{2})\//.exec(relPath);
  if (d) return `${d[1]}-${d[2]}-${d[3]}`;
  return undefined;
}

/** Where a file is stored: cdr/<node>/<path>.zst.age, damaged files aside under cdr/<node>/damaged/. */
export function cdrObjectKey(node: string, relPath: string, damaged: boolean): string {
  return `${cdrPrefix(node)}${damaged ? 'damaged/' : ''}${relPath}.zst.age`;
}

export function cdrPrefix(node: string): string {
  return `cdr/${node}/`;
}

export function cdrIndexPrefix(node: string): string {
  return `${cdrPrefix(node)}.shipped/`;
}
