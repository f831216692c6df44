/**
 * The record of what was shipped. Two copies:
 *  - in the repository, one index object per run that shipped (or verified, or removed) something:
 *    cdr/<node>/.shipped/<YYYYMMDDTHHMMSS.mmmZ>-<rand>.json, plaintext JSON like a manifest (paths,
 *    sizes, sha256 of the stored objects; never CDR content). It is the durable record: restore
 *    reads it, and a lost local state is rebuilt from it;
 *  - on the host, a state file (default /var/lib/ngcp-backup/cdr-<node>.json) holding the merged
 *    record, so a run with nothing new only stats the tree and reads one local file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IntegrityError, LockedError } from '../errors.js';
import type { Storage } from '../repository/storage.js';
import { cdrIndexPrefix, type CdrTreeFile } from './plan.js';

/** What was shipped: the file as it was stat'ed, and where and how it is stored. */
export interface CdrRecordEntry extends Omit<CdrTreeFile, 'md5Ok'> {
  /** false: the trailer did not match; stored under damaged/ and never removed locally. */
  md5Ok: boolean;
  /** Key of the stored object, relative to the repository. */
  key: string;
  storedSize: number;
  sha256: string;
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

interface LocalState {
  format: 'ngcp-backup-cdr-state';
  version: 1;
  node: string;
  /** Storage location the record belongs to: a state for another repository is not trusted. */
  repository: string;
  /** Index objects already merged into this state. */
  indexes: string[];
  entries: CdrRecordEntry[];
}

export const DEFAULT_STATE_DIR = '/var/lib/ngcp-backup';

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
  static async load(storage: Storage, node: string, stateDir: string, options: { listIndexes?: boolean } = {}): Promise<CdrRecord> {
    const record = new CdrRecord(node, storage, stateFile(stateDir, node));
    let state: LocalState | undefined;
    try {
      state = JSON.parse(await readFile(record.file, 'utf8')) as LocalState;
      if (state.format !== 'ngcp-backup-cdr-state' || state.node !== node || state.repository !== storage.location) state = undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && !(error instanceof SyntaxError)) throw error;
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
        const index = JSON.parse((await readObject(storage, key)).toString('utf8')) as CdrIndex;
        if (index.format !== 'ngcp-backup-cdr-index') throw new IntegrityError(`${key} is not a CDR index`);
        record.merge(index.entries);
        record.indexes.add(key);
      }
      if (missing.length > 0) await record.saveLocal();
    }
    return record;
  }

  /** Stores the entries as a new index object in the repository, then merges them and saves the local state. */
  #writing: Promise<unknown> = Promise.resolve();

  /** Commits run one after the other (workers of one run checkpoint concurrently). */
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
    await this.storage.put(key, Buffer.from(JSON.stringify(index) + '\n'));
    this.merge(entries);
    this.indexes.add(key);
    await this.saveLocal();
    return key;
  }

  async saveLocal(): Promise<void> {
    const state: LocalState = {
      format: 'ngcp-backup-cdr-state',
      version: 1,
      node: this.node,
      repository: this.storage.location,
      indexes: [...this.indexes].sort(),
      entries: [...this.entries.values()],
    };
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${process.pid}`;
    await writeFile(tmp, JSON.stringify(state), { mode: 0o600 });
    await rename(tmp, this.file);
  }
}

async function readObject(storage: Storage, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(await storage.get(key), new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c), done()) }));
  return Buffer.concat(chunks);
}

/** One shipping/removal run per node at a time: a lock file next to the state, taken over when its process is gone. */
export async function lockCdr(stateDir: string, node: string): Promise<() => Promise<void>> {
  const file = `${stateFile(stateDir, node)}.lock`;
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (pid > 0 && pid !== process.pid && alive(pid)) throw new LockedError(`another CDR run (pid ${pid}) holds ${file}`);
      await rm(file, { force: true });
    }
  }
  throw new LockedError(`cannot take ${file}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
