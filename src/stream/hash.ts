/**
 * A pass-through that takes the sha256 and size of the bytes going through it: the figures
 * the manifest records for each stored object (invariant 5).
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export class HashStream extends Transform {
  readonly #hash: Hash = createHash('sha256');
  #size = 0;
  #digest: string | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#size += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#digest = this.#hash.digest('hex');
    callback();
  }

  /** Hex sha256 of everything that went through; throws until the input has ended. */
  get sha256(): string {
    if (this.#digest === undefined) throw new Error('the sha256 is not known until the stream has finished');
    return this.#digest;
  }

  /** Bytes so far; final once the stream has finished. */
  get size(): number {
    return this.#size;
  }
}

export function createHashStream(): HashStream {
  return new HashStream();
}
