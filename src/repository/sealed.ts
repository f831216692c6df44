/**
 * Sealed objects: what every snapshot object, CDR object and binlog segment is. Written as
 * plaintext -> zstd -> age -> sha256 -> storage, read back as storage -> sha256 check -> age ->
 * zstd; one copy of each direction (docs/design.md, "Repository format").
 */
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDecryptStream, createEncryptStream } from '../crypto/age.js';
import { ObjectNotFoundError } from '../errors.js';
import { createCountStream } from '../stream/count.js';
import { createHashStream } from '../stream/hash.js';
import { createZstdCompressStream, createZstdDecompressStream } from '../stream/zstd.js';
import type { Storage } from './storage.js';

export interface SealOptions {
  storage: Storage;
  recipients: string[];
  compression: { level: number; threads: number };
  signal?: AbortSignal;
  /** Told the size of every plaintext chunk as it goes in (progress). */
  onRawBytes?: (n: number) => void;
}

export interface StoreOptions {
  /** false for small JSON that is only encrypted (details.json.age). */
  compress?: boolean;
}

export interface SealedObject {
  key: string;
  size: number;
  sha256: string;
  rawSize: number;
}

/**
 * plaintext -> zstd -> age -> sha256 -> storage, all streaming: no plaintext on disk, memory
 * bounded by the stages' buffers and the upload's part size. On any failure nothing is left
 * (the storage's put removes its temporary file or aborts its multipart upload), and the error
 * that started it is the one reported.
 */
export async function storeSealed(options: SealOptions, key: string, plaintext: Readable, store: StoreOptions = {}): Promise<SealedObject> {
  const local = new AbortController();
  const onAbort = (): void => local.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  let rawSize = 0;
  const count = createCountStream((n) => {
    rawSize += n;
    options.onRawBytes?.(n);
  });
  const hash = createHashStream();
  const body = new PassThrough({ highWaterMark: 256 * 1024 });
  const errors: unknown[] = [];
  const note = (error: unknown): never => {
    errors.push(error);
    local.abort(error);
    throw error;
  };
  const stages = [
    count,
    ...(store.compress === false ? [] : [createZstdCompressStream(options.compression)]),
    createEncryptStream(options.recipients),
    hash,
  ];
  const piping = pipeline([plaintext, ...stages, body], { signal: local.signal }).catch(note);
  const putting = options.storage.put(key, body, { signal: local.signal }).catch(note);
  const results = await Promise.allSettled([piping, putting]);
  options.signal?.removeEventListener('abort', onAbort);
  if (results.some((r) => r.status === 'rejected')) {
    throw firstMeaningful(errors, options.signal);
  }
  return { key, size: hash.size, sha256: hash.sha256, rawSize };
}

/** The error that caused the failure, not the AbortErrors it set off in other stages. */
function firstMeaningful(errors: unknown[], signal?: AbortSignal): unknown {
  if (signal?.aborted && signal.reason) return signal.reason;
  return errors.find((e) => (e as Error)?.name !== 'AbortError') ?? errors[0];
}

/** What a stored object must be: its size and the sha256 of its stored bytes. */
export interface StoredFigures {
  size: number;
  sha256: string;
}

/**
 * Reads key's stored bytes (into `sink` when given, else discarded) and compares them with
 * `expected`. Returns undefined when they match, else what differs, in words ("missing", the
 * size, the sha256); `whose` names the record that holds the expectation ("the manifest").
 */
export async function checkStored(
  storage: Storage,
  key: string,
  expected: StoredFigures,
  options: { whose: string; sink?: Writable; signal?: AbortSignal; onBytes?: (n: number) => void },
): Promise<string | undefined> {
  const hash = createHashStream();
  const sink = options.sink ?? new Writable({ write: (_c, _e, done) => done() });
  const count = options.onBytes ? [createCountStream(options.onBytes)] : [];
  try {
    await pipeline([await storage.get(key), hash, ...count, sink], { signal: options.signal });
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return 'missing';
    throw error;
  }
  if (hash.size !== expected.size) return `${hash.size} bytes stored, ${options.whose} says ${expected.size}`;
  if (hash.sha256 !== expected.sha256) return `sha256 ${hash.sha256} does not match ${options.whose}'s ${expected.sha256}`;
  return undefined;
}

/**
 * The plaintext of a sealed object's bytes: age, then zstd unless the object is only encrypted
 * (details.json.age). An error of any stage (a wrong identity, damage) errors the returned stream.
 */
export function openSealed(sealed: Readable, identities: string[], options: { compressed: boolean }): Readable {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  const stages = [createDecryptStream(identities), ...(options.compressed ? [createZstdDecompressStream()] : [])];
  pipeline([sealed, ...stages, out]).catch((error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))));
  return out;
}

/** Whether an object name is compressed as well as encrypted (`.zst.age`) or only encrypted (`.age`). */
export function isCompressed(name: string): boolean {
  return name.endsWith('.zst.age');
}
