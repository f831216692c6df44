/**
 * zstd through the `zstd` CLI (Node 20 has no zstd in zlib; the CLI did 210 MB/s, see
 * docs/design.md), so what we write is exactly what an operator's `zstd -d` reads (invariant 8).
 */
import { IntegrityError } from '../errors.js';
import { ChildProcessError, createChildStream, describeFailure, type ChildProcessStream } from './child.js';

export interface ZstdCompressOptions {
  /** 1..19; default 3. */
  readonly level?: number;
  /** Worker threads; 0 means one per core; default 1. */
  readonly threads?: number;
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`zstd ${name} must be an integer from ${min} to ${max}, not ${value}`);
  }
  return value;
}

/** `zstd -<level> -T<threads> -q -c`: plaintext in, a zstd frame (with its checksum) out. */
export function createZstdCompressStream(options: ZstdCompressOptions = {}): ChildProcessStream {
  const level = checkInteger('level', options.level ?? 3, 1, 19);
  const threads = checkInteger('threads', options.threads ?? 1, 0, 256);
  return createChildStream('zstd', [`-${level}`, `-T${threads}`, '-q', '-c']);
}

/**
 * `zstd -d -q -c`. Its only input is the data, so when it exits 1 the data is bad (not zstd,
 * corrupted, truncated, checksum mismatch): that is an IntegrityError carrying zstd's complaint.
 * Death by signal stays a ChildProcessError.
 *
 * Note: the zstd CLI also decompresses gzip/xz/lz4 input; the data we feed it has already been
 * authenticated by age, so that leniency cannot be used to slip anything in.
 */
export function createZstdDecompressStream(): ChildProcessStream {
  return createChildStream('zstd', ['-d', '-q', '-c'], {
    failure: (failure) => failure.exitCode === 1
      ? new IntegrityError(`the data does not decompress: ${describeFailure(failure)}`)
      : new ChildProcessError(failure),
  });
}
