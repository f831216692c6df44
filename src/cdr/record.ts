/**
 * The record of what was shipped (src/format/cdr-index.ts): the index objects in the repository
 * are the truth; the host's state file is a cache of them.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCdrIndex, parseCdrState, serializeCdrIndex, serializeCdrState, type CdrIndex, type CdrRecordEntry, type CdrState } from '../format/cdr-index.js';
import { cdrIndexPrefix } from '../format/layout.js';
import { readText } from '../repository/read.js';
import type { Storage } from '../repository/storage.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { ObjectNotFoundError } from '../errors.js';

export const DEFAULT_STATE_DIR = '/var/lib/ngcp-backup';

async function exists(storage: Storage, key: string): Promise<boolean> {
  try {
    await storage.stat(key);
    return true;
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return false;
    throw error;
  }
}

export function stateFile(stateDir: string, node: string): string {
  return path.join(stateDir, `cdr-${node.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);
}

export class CdrRecord {
  readonly entries = new Map<string, CdrRecordEntry>();
  readonly indexes = new Set<string>();

  constructor(
    readonly node: string,
    readonly storage: Storage,
    readonly file: string,
  ) {}

  merge(entries: Iterable<CdrRecordEntry>): void {
    for (const e of entries) this.entries.set(e.path, { ...this.entries.get(e.path), ...e });
  }

  /**
   * The local state when it belongs to this repository and knows every index in it, else the
   * state rebuilt from the repository's indexes. listIndexes=false trusts the local state as is
   * (the fast path: no listing of the repository).
   */
  static async load(storage: Storage, node: string, stateDir: string, options: { listIndexes?: boolean; onStale?: (why: string) => void } = {}): Promise<CdrRecord> {
    const record = new CdrRecord(node, storage, stateFile(stateDir, node));
    let state: CdrState | undefined;
    try {
      state = parseCdrState(await readFile(record.file, 'utf8'), node, storage.location);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    // The repository is the truth of what it holds; the host's state is a cache of it. One cheap
    // look per run: the newest index the state knows must still be there (a bucket recreated, a
    // directory wiped under the same URL), else the state is rebuilt from what the repository has.
    const newest = state?.indexes.at(-1);
    if (newest !== undefined && !(await exists(storage, newest))) {
      options.onStale?.(`the repository no longer holds ${newest}, the newest record of shipped CDR files this host knows: the record is rebuilt from the repository, and files it lacks are shipped again`);
      state = undefined;
    }
    if (state) {
      record.merge(state.entries);
      for (const i of state.indexes) record.indexes.add(i);
    }
    if (!state || options.listIndexes) {
      const keys: string[] = [];
      for await (const o of storage.list(cdrIndexPrefix(node))) if (o.key.endsWith('.json')) keys.push(o.key);
      keys.sort();
      const missing = keys.filter((k) => !record.indexes.has(k));
      for (const key of missing) {
        record.merge(parseCdrIndex(await readText(storage, key), key).entries);
        record.indexes.add(key);
      }
      if (missing.length > 0) await record.saveLocal();
    }
    return record;
  }

  #writing: Promise<unknown> = Promise.resolve();

  /**
   * Stores the entries as a new index object in the repository, then merges them and saves the
   * local state. Commits run one after the other (workers of one run checkpoint concurrently).
   */
  commit(entries: CdrRecordEntry[], now = new Date()): Promise<string | undefined> {
    const next = this.#writing.then(() => this.#commit(entries, now));
    this.#writing = next.catch(() => undefined);
    return next;
  }

  async #commit(entries: CdrRecordEntry[], now: Date): Promise<string | undefined> {
    if (entries.length === 0) return undefined;
    // Milliseconds in the key: indexes sort in the order they were written, and later ones win.
    const latest = [...this.indexes].sort().at(-1)?.slice(cdrIndexPrefix(this.node).length, -('-xxxxxx.json'.length)) ?? '';
    let stamp = now.toISOString().replace(/[-:]/g, '');
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2}\.\d{3})Z$/.exec(latest);
    if (m && stamp <= latest) {
      // Two commits in the same millisecond, or a clock that went back: still after the last one.
      const last = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
      stamp = new Date(last + 1).toISOString().replace(/[-:]/g, '');
    }
    const key = `${cdrIndexPrefix(this.node)}${stamp}-${randomBytes(3).toString('hex')}.json`;
    const index: CdrIndex = { format: 'ngcp-backup-cdr-index', version: 1, node: this.node, createdAt: now.toISOString(), entries };
    await this.storage.put(key, serializeCdrIndex(index));
    this.merge(entries);
    this.indexes.add(key);
    await this.saveLocal();
    return key;
  }

  async saveLocal(): Promise<void> {
    const state: CdrState = {
      format: 'ngcp-backup-cdr-state',
      version: 1,
      node: this.node,
      repository: this.storage.location,
      indexes: [...this.indexes].sort(),
      entries: [...this.entries.values()],
    };
    await writeFileAtomic(this.file, serializeCdrState(state), 0o600, 0o700);
  }
}
