import { randomBytes } from 'node:crypto';
import { constants as fsConstants, statSync, type Dirent } from 'node:fs';
import { access, mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DiskFullError,
  NgcpBackupError,
  ObjectNotFoundError,
  RepositoryAccessError,
  RepositoryUnreachableError,
} from '../errors.js';
import { forEachConcurrently } from '../util/pool.js';
import type { ObjectInfo, ObjectLock, PutOptions, Storage } from './storage.js';

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const TEMP_PATTERN = /^\..+\.tmp-[0-9a-f]{16}$/;

/**
 * Throws unless key is a repository key every backend can store: relative, `/`-separated,
 * no empty, `.` or `..` segments, no NUL, and not shaped like one of our temporary names.
 * S3 would take more, but a repository must stay copyable between `s3://` and `file://`.
 */
export function assertValidKey(key: string): void {
  const segments = key.split('/');
  const bad =
    key.length === 0 ||
    Buffer.byteLength(key) > 1024 ||
    key.includes('\0') ||
    segments.some((s) => s === '' || s === '.' || s === '..' || Buffer.byteLength(s) > 255) ||
    TEMP_PATTERN.test(segments[segments.length - 1]!);
  if (bad) throw new TypeError(`invalid repository key ${JSON.stringify(key)}`);
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

/** A repository in a local directory (`file:///abs/dir`). */
export class FileStorage implements Storage {
  readonly root: string;
  readonly location: string;
  /** Temporary files of puts running in this process; cleanupIncomplete leaves them alone. */
  private readonly inFlight = new Set<string>();

  constructor(root: string) {
    if (!isAbsolute(root)) throw new TypeError(`repository directory must be absolute: ${root}`);
    this.root = normalize(root).replace(/(.)\/+$/, '$1');
    this.location = `file://${this.root}`;
  }

  async check(): Promise<void> {
    let info;
    try {
      info = await stat(this.root);
    } catch (err) {
      throw this.toStorageError(err, this.root, 'read');
    }
    if (!info.isDirectory()) {
      throw new RepositoryUnreachableError(`repository ${this.root} is not a directory`);
    }
    try {
      await access(this.root, fsConstants.W_OK | fsConstants.X_OK);
    } catch (err) {
      throw new RepositoryAccessError(`repository directory ${this.root} is not writable`, { cause: err });
    }
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions = {}): Promise<void> {
    assertValidKey(key);
    const { signal } = options;
    const path = this.pathOf(key);
    const temp = join(dirname(path), `.${basename(path)}.tmp-${randomBytes(8).toString('hex')}`);
    let bodyError: unknown;
    if (body instanceof Readable) body.on('error', (err) => (bodyError ??= err));

    this.inFlight.add(temp);
    let handle: FileHandle | undefined;
    try {
      signal?.throwIfAborted();
      handle = await this.createTemp(temp, key);
      if (Buffer.isBuffer(body)) {
        await handle.writeFile(body, { signal });
        await handle.sync();
        await handle.close();
      } else {
        // The stream owns the handle from here: it fsyncs (flush) and closes it at the end.
        const out = handle.createWriteStream({ flush: true });
        await pipeline(body, out, { signal });
      }
      handle = undefined;
      // The rename is the commit point: an abort that came before it must leave nothing.
      signal?.throwIfAborted();
      await rename(temp, path);
      await this.syncDir(dirname(path));
    } catch (err) {
      await handle?.close().catch(() => {});
      await unlink(temp).catch(() => {});
      if (signal?.aborted) throw signal.reason;
      if (bodyError !== undefined) throw bodyError;
      if (!Buffer.isBuffer(body)) body.destroy();
      throw this.toStorageError(err, path, 'write');
    } finally {
      this.inFlight.delete(temp);
    }
  }

  async get(key: string): Promise<Readable> {
    assertValidKey(key);
    const path = this.pathOf(key);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      throw this.toStorageError(err, path, 'read', key);
    }
    const info = await handle.stat();
    if (!info.isFile()) {
      await handle.close();
      throw new ObjectNotFoundError(key);
    }
    return handle.createReadStream();
  }

  async stat(key: string): Promise<ObjectInfo> {
    assertValidKey(key);
    const path = this.pathOf(key);
    try {
      const info = await stat(path);
      if (!info.isFile()) throw new ObjectNotFoundError(key);
      return { key, size: info.size };
    } catch (err) {
      throw this.toStorageError(err, path, 'read', key);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // Start from the deepest directory the prefix names in full; filter the rest by name.
    const slash = prefix.lastIndexOf('/');
    const startRel = slash === -1 ? '' : prefix.slice(0, slash);
    for await (const info of this.walk(startRel)) {
      if (info.key.startsWith(prefix)) yield info;
    }
  }

  async remove(key: string): Promise<void> {
    assertValidKey(key);
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        await this.check(); // a missing repository is not a missing object
        return;
      }
      throw this.toStorageError(err, path, 'write');
    }
    // Empty directories are left in place: removing them would race with a concurrent put
    // that has just created its directory and is about to open its temporary file there.
  }

  async removePrefix(prefix: string, options: { first?: string } = {}): Promise<number> {
    const keys: string[] = [];
    for await (const o of this.list(prefix)) keys.push(o.key);
    const { first } = options;
    if (first !== undefined && keys.includes(first)) await this.remove(first);
    await forEachConcurrently(keys.filter((k) => k !== first), 8, (k) => this.remove(k));
    return keys.length;
  }

  /** A directory cannot lock a file against its owner: never locked. */
  async objectLock(key: string): Promise<ObjectLock | undefined> {
    await this.stat(key);
    return undefined;
  }

  async cleanupIncomplete(prefix: string): Promise<number> {
    const slash = prefix.lastIndexOf('/');
    const startRel = slash === -1 ? '' : prefix.slice(0, slash);
    let removed = 0;
    for await (const temp of this.walkTemps(startRel)) {
      // `<dir>/.<name>.tmp-<hex>` is a put of the key `<dir>/<name>`: match the prefix on that.
      const name = basename(temp);
      const dirRel = dirname(temp.slice(this.root.length + 1));
      const original = name.slice(1, name.lastIndexOf('.tmp-'));
      const key = dirRel === '.' ? original : `${dirRel}/${original}`;
      if (!key.startsWith(prefix) || this.inFlight.has(temp)) continue;
      try {
        await unlink(temp);
        removed++;
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw this.toStorageError(err, temp, 'write');
      }
    }
    return removed;
  }

  private pathOf(key: string): string {
    return join(this.root, key);
  }

  /** Opens the temporary file, creating missing directories (0700) under the root only. */
  private async createTemp(temp: string, key: string): Promise<FileHandle> {
    try {
      return await open(temp, 'wx', FILE_MODE);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    const segments = key.split('/').slice(0, -1);
    let dir = this.root;
    for (const segment of segments) {
      dir = join(dir, segment);
      try {
        await mkdir(dir, { mode: DIR_MODE });
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
      }
    }
    return await open(temp, 'wx', FILE_MODE);
  }

  /** Makes a rename durable: the directory entry, not just the file, must reach the disk. */
  private async syncDir(dir: string): Promise<void> {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private async *walk(rel: string): AsyncGenerator<ObjectInfo> {
    const dir = rel === '' ? this.root : join(this.root, rel);
    const entries = await this.readdirOrNothing(dir);
    for (const entry of entries) {
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        yield* this.walk(childRel);
      } else if (entry.isFile() && !TEMP_PATTERN.test(entry.name)) {
        try {
          const info = await stat(join(dir, entry.name));
          yield { key: childRel, size: info.size };
        } catch (err) {
          if (errnoCode(err) !== 'ENOENT') throw this.toStorageError(err, join(dir, entry.name), 'read');
        }
      }
    }
  }

  private async *walkTemps(rel: string): AsyncGenerator<string> {
    const dir = rel === '' ? this.root : join(this.root, rel);
    for (const entry of await this.readdirOrNothing(dir)) {
      const child = join(dir, entry.name);
      if (entry.isDirectory()) yield* this.walkTemps(rel === '' ? entry.name : `${rel}/${entry.name}`);
      else if (entry.isFile() && TEMP_PATTERN.test(entry.name)) yield child;
    }
  }

  /** A missing directory below the root is an empty listing; a missing root is an error. */
  private async readdirOrNothing(dir: string): Promise<Dirent[]> {
    try {
      return await readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = errnoCode(err);
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dir !== this.root) return [];
      throw this.toStorageError(err, dir, 'read');
    }
  }

  private toStorageError(err: unknown, path: string, what: 'read' | 'write', key?: string): Error {
    if (err instanceof NgcpBackupError) return err;
    const code = errnoCode(err);
    if (key !== undefined && (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR')) {
      // Only a missing object if the repository itself is there.
      return path !== this.root && this.rootExistsSync() ? new ObjectNotFoundError(key, { cause: err }) : this.missingRoot(err);
    }
    if (code === 'ENOENT' && (path === this.root || !this.rootExistsSync())) return this.missingRoot(err);
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      return new DiskFullError(`no space left to ${what} ${path} in repository ${this.root}: free space there, or use another repository`, { cause: err });
    }
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      return new RepositoryAccessError(`no permission to ${what} ${path} in repository ${this.root}`, { cause: err });
    }
    const detail = code ?? (err instanceof Error ? err.message : String(err));
    return new NgcpBackupError(`cannot ${what} ${path} in repository ${this.root}: ${detail}`, { cause: err });
  }

  private missingRoot(cause: unknown): RepositoryUnreachableError {
    return new RepositoryUnreachableError(`repository directory ${this.root} does not exist`, { cause });
  }

  private rootExistsSync(): boolean {
    try {
      // Only reached on an error path; a synchronous stat keeps toStorageError simple.
      return statSync(this.root).isDirectory();
    } catch {
      return false;
    }
  }
}
