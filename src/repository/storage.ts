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

/** An S3 Object Lock on an object's current version: it cannot be deleted before `until`. */
export interface ObjectLock {
  /** GOVERNANCE or COMPLIANCE; absent for a legal hold alone. */
  mode?: string;
  /** The retention date; absent for a legal hold alone. */
  until?: Date;
  /** A legal hold keeps the object until it is lifted, whatever the date. */
  legalHold: boolean;
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
   * Removes every object under prefix for good, `first` (a key under prefix) before any other.
   * In a versioned S3 bucket that means every version and delete marker, so the space is
   * freed (a plain delete there only hides the object). Everything is listed before anything
   * is deleted, so a listing error changes nothing. Returns how many keys were under prefix.
   */
  removePrefix(prefix: string, options?: { first?: string }): Promise<number>;

  /**
   * The Object Lock that keeps the object from being deleted now (a retention date in the
   * future or a legal hold), or undefined when it may be deleted. Always undefined for a
   * `file://` repository. Throws ObjectNotFoundError when the object does not exist.
   */
  objectLock(key: string, now?: Date): Promise<ObjectLock | undefined>;

  /**
   * Removes leftovers of interrupted puts under prefix (incomplete multipart uploads,
   * temporary files) and returns how many were removed.
   */
  cleanupIncomplete(prefix: string): Promise<number>;
}
