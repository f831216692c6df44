import type { Readable } from 'node:stream';

/**
 * The storage a repository lives on: a directory (`file://`) or an S3-compatible bucket.
 * Keys are relative to the repository's prefix and use `/` as separator.
 * Retries, concurrency limits and logging wrap a Storage; they are not inside one.
 */
export interface ObjectInfo {
  key: string;
  size: number;
}

export interface PutOptions {
  /** Aborting makes put() reject and leaves no object and no incomplete upload behind. */
  signal?: AbortSignal;
}

export interface Storage {
  /** Where it points, for messages (never contains a credential). */
  readonly location: string;

  /**
   * Checks that the repository exists and that we may use it. Throws
   * RepositoryUnreachableError (no such bucket/directory, endpoint down) or
   * RepositoryAccessError (credentials refused).
   */
  check(): Promise<void>;

  /**
   * Stores the body under key. The object becomes visible only once the whole body
   * has been stored; on any error (including a body stream error) nothing is left
   * behind (temporary file removed, multipart upload aborted).
   */
  put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<void>;

  /** A stream of the object's bytes. Throws ObjectNotFoundError when it does not exist. */
  get(key: string): Promise<Readable>;

  /** Size of the object. Throws ObjectNotFoundError when it does not exist. */
  stat(key: string): Promise<ObjectInfo>;

  /** Every object whose key starts with prefix, in no particular order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;

  /** Removes the object; removing an object that does not exist is not an error. */
  remove(key: string): Promise<void>;

  /**
   * Removes leftovers of interrupted puts under prefix (incomplete multipart uploads,
   * temporary files) and returns how many were removed.
   */
  cleanupIncomplete(prefix: string): Promise<number>;
}
