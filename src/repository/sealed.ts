import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createEncryptStream } from '../crypto/age.js';
import { createHashStream } from '../stream/hash.js';
import { createZstdCompressStream } from '../stream/zstd.js';
import type { Storage } from './storage.js';
import { createCountStream } from '../report/progress.js';

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
