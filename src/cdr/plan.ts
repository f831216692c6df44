/**
 * The pure part of CDR shipping, the CDR policy and CDR restore: which files of the export tree
 * to ship, which local copies and stored objects the policy wants gone, which shipped files a
 * restore brings back. No I/O here, so that the rules (docs/cdr.md) are tested without a tree.
 */
import { UsageError } from '../errors.js';
import type { CdrRecordEntry, CdrTreeFile } from '../format/cdr-index.js';

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

export interface CdrPolicy {
  /** Years a shipped file stays in the repository; undefined: forever. */
  retentionYears?: number;
  /** Days after its export day a shipped and verified local file is removed; undefined: never. */
  removeLocalAfterDays?: number;
}

const DAY_MS = 86_400_000;

function fileDayMs(path_: string, mtimeMs: number): number {
  const day = cdrFileDay(path_);
  return day ? Date.parse(`${day}T00:00:00Z`) : mtimeMs;
}

/** Pure: which local files the policy wants gone (before verification). */
export function planLocalRemoval(tree: Iterable<CdrTreeFile>, record: ReadonlyMap<string, CdrRecordEntry>, days: number | undefined, now: Date): Array<{ file: CdrTreeFile; entry: CdrRecordEntry }> {
  if (days === undefined) return [];
  const cutoff = now.getTime() - days * DAY_MS;
  const out: Array<{ file: CdrTreeFile; entry: CdrRecordEntry }> = [];
  for (const file of tree) {
    if (isInProgress(file.path)) continue;
    const entry = record.get(file.path);
    if (!entry || !entry.md5Ok || entry.prunedAt) continue;
    if (entry.size !== file.size || Math.trunc(entry.mtimeMs) !== Math.trunc(file.mtimeMs)) continue;
    // The export day (from the name) and the mtime must both be old enough.
    if (fileDayMs(file.path, file.mtimeMs) + DAY_MS > cutoff || file.mtimeMs > cutoff) continue;
    out.push({ file, entry });
  }
  return out;
}

/** Pure: which stored objects are past retention (damaged ones too). */
export function planRepositoryPrune(record: ReadonlyMap<string, CdrRecordEntry>, years: number | undefined, now: Date): CdrRecordEntry[] {
  if (years === undefined) return [];
  const cutoff = new Date(now);
  cutoff.setUTCFullYear(cutoff.getUTCFullYear() - years);
  return [...record.values()].filter((e) => !e.prunedAt && fileDayMs(e.path, e.mtimeMs) + DAY_MS <= cutoff.getTime());
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The entries a restore brings back: good files (not damaged, not pruned) whose day is in [from, to]. */
export function selectCdrRestore(entries: Iterable<CdrRecordEntry>, from?: string, to?: string): CdrRecordEntry[] {
  for (const [flag, v] of [['--from', from], ['--to', to]] as const) {
    if (v !== undefined && (!DAY.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`)))) throw new UsageError(`ngcp-backup cdr restore: ${flag} must be a date YYYY-MM-DD, got ${JSON.stringify(v)}`);
  }
  if (from && to && from > to) throw new UsageError(`ngcp-backup cdr restore: --from ${from} is after --to ${to}`);
  const out: CdrRecordEntry[] = [];
  for (const e of entries) {
    if (!e.md5Ok || e.prunedAt) continue;
    const day = cdrFileDay(e.path) ?? new Date(e.mtimeMs).toISOString().slice(0, 10);
    if (from && day < from) continue;
    if (to && day > to) continue;
    out.push(e);
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}
