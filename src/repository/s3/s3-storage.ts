import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectRetentionCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { ConfigError, NgcpBackupError, ObjectNotFoundError } from '../../errors.js';
import { forEachConcurrently } from '../../util/pool.js';
import { assertValidKey } from '../file-storage.js';
import { DEFAULT_RETRY, type RetryEvent, type RetryPolicy } from '../retry.js';
import type { ObjectInfo, ObjectLock, PutOptions, Storage } from '../storage.js';
import { codeOf, mapS3Error, statusOf } from './errors.js';
import { sdkRetryStrategy } from './retry-strategy.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3StorageOptions {
  bucket: string;
  /** Keys are stored under `<prefix>/`; empty or absent for the bucket's root. */
  prefix?: string;
  /** For S3-compatible stores (Ceph RGW, MinIO, ...); absent for AWS. */
  endpoint?: string;
  region?: string;
  /** Path-style addressing (`<endpoint>/<bucket>/<key>`); default true with a non-AWS endpoint. */
  pathStyle?: boolean;
  /** Multipart part size in bytes (>= 5 MiB); memory per put is about (queueSize + 1) * partSize. */
  partSize?: number;
  /** Parts uploaded concurrently per put. */
  queueSize?: number;
  /**
   * Attempts of an upload part, first included; other requests are sent once (RetryingStorage,
   * which openStorage wraps around this, retries them). Default: the retry policy's.
   */
  maxAttempts?: number;
  /** The retry policy of upload parts (delays, bound). */
  retry?: RetryPolicy;
  /** Told of every retried upload part. */
  onRetry?: (event: RetryEvent) => void;
  /** Absent: the standard AWS chain (environment, shared credentials file/profile, ...). */
  credentials?: S3Credentials;
  /** `repository.object_lock`: every put locks its object in this mode for this many days. */
  objectLock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; days: number };
}

export const DEFAULT_PART_SIZE = 5 * 1024 * 1024;
export const DEFAULT_QUEUE_SIZE = 2;

function isAwsHost(hostname: string): boolean {
  return /(^|\.)amazonaws\.com(\.cn)?$/i.test(hostname);
}

/** The endpoint without user info, query or fragment: safe for messages. */
function cleanEndpoint(endpoint: string): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new ConfigError(`repository.endpoint is not a URL (expected e.g. https://s3.example.net)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`repository.endpoint must be an http:// or https:// URL, not ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError(
      'repository.endpoint must not contain credentials; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a credentials file',
    );
  }
  url.search = '';
  url.hash = '';
  return url;
}

/** A repository in an S3 bucket (AWS or S3-compatible: Ceph RGW, MinIO, ...). */
export class S3Storage implements Storage {
  readonly bucket: string;
  readonly prefix: string;
  readonly location: string;
  /** Where requests go, for messages: the endpoint URL, or "AWS S3 (<region>)". */
  readonly endpointLabel: string;
  readonly client: S3Client;
  /** Sends the requests of uploads (lib-storage's Upload), whose parts it retries by the policy. */
  private readonly uploadClient: S3Client;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly objectLockSetting: S3StorageOptions['objectLock'];
  /** Keys with a put running in this process; cleanupIncomplete leaves their uploads alone. */
  private readonly inFlight = new Map<string, number>();

  constructor(options: S3StorageOptions) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new ConfigError(
        `repository.url: ${JSON.stringify(options.bucket)} is not a valid bucket name (3-63 characters: a-z, 0-9, '.', '-')`,
      );
    }
    this.bucket = options.bucket;
    this.prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.partSize = options.partSize ?? DEFAULT_PART_SIZE;
    this.queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
    this.objectLockSetting = options.objectLock;
    if (this.partSize < 5 * 1024 * 1024) {
      throw new ConfigError(`repository.partSize must be at least 5 MiB (S3's minimum part size)`);
    }
    if (!Number.isInteger(this.queueSize) || this.queueSize < 1) {
      throw new ConfigError(`repository.queueSize must be a positive integer`);
    }

    const endpoint = options.endpoint === undefined ? undefined : cleanEndpoint(options.endpoint);
    const custom = endpoint !== undefined && !isAwsHost(endpoint.hostname);
    const region =
      options.region ??
      process.env.AWS_REGION ??
      process.env.AWS_DEFAULT_REGION ??
      // Region only matters for signing on most S3-compatible stores; us-east-1 is their default.
      (custom ? 'us-east-1' : undefined);
    this.endpointLabel = endpoint ? endpoint.href.replace(/\/$/, '') : `AWS S3 (${region ?? 'default region'})`;
    this.location = `s3://${this.bucket}/${this.prefix}${endpoint ? ` at ${this.endpointLabel}` : ''}`;

    const config: S3ClientConfig = {
      endpoint: endpoint?.href,
      forcePathStyle: options.pathStyle ?? custom,
      // Sent once: RetryingStorage retries whole operations (repository/retry.ts).
      maxAttempts: 1,
      // Without a connect timeout a black-holed endpoint hangs each attempt for minutes. No
      // socket idle timeout: a get() stream may rightly sit paused while its consumer is busy.
      requestHandler: { connectionTimeout: 10_000 },
    };
    if (region !== undefined) config.region = region;
    if (options.credentials !== undefined) config.credentials = options.credentials;
    if (custom) {
      // SDK >= 3.729 sends CRC32 checksums in aws-chunked bodies by default; several
      // S3-compatible stores mishandle that (one stored the chunk framing as object data).
      // We verify our own sha256 of the stored bytes anyway.
      config.requestChecksumCalculation = 'WHEN_REQUIRED';
      config.responseChecksumValidation = 'WHEN_REQUIRED';
    }
    this.client = new S3Client(config);
    const policy = { ...(options.retry ?? DEFAULT_RETRY), ...(options.maxAttempts !== undefined ? { attempts: options.maxAttempts } : {}) };
    this.uploadClient = new S3Client({ ...config, maxAttempts: policy.attempts, retryStrategy: sdkRetryStrategy(policy, options.onRetry) });
  }

  async check(): Promise<void> {
    try {
      // ListObjectsV2 rather than HeadBucket: it also works with a policy that grants
      // only the prefix, and a missing bucket comes back with its error code (HEAD has no body).
      await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.fullKey(''), MaxKeys: 1 }),
      );
    } catch (err) {
      throw await this.toStorageError(err, 'check');
    }
    if (this.objectLockSetting !== undefined) await this.checkObjectLock();
  }

  /**
   * With repository.object_lock set, the bucket must have Object Lock enabled, which S3 allows
   * only when the bucket is created. Without it every locked put would fail (InvalidRequest):
   * say so once, before anything is stored.
   */
  private async checkObjectLock(): Promise<void> {
    let enabled: string | undefined;
    try {
      const out = await this.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.bucket }));
      enabled = out.ObjectLockConfiguration?.ObjectLockEnabled;
    } catch (err) {
      if (codeOf(err) !== 'ObjectLockConfigurationNotFoundError') throw await this.toStorageError(err, 'check');
    }
    if (enabled !== 'Enabled') {
      throw new ConfigError(
        `repository.object_lock is set, but bucket ${this.bucket} at ${this.endpointLabel} has no Object Lock configuration; ` +
          `Object Lock can only be enabled when a bucket is created (create one with --object-lock-enabled-for-bucket), or remove repository.object_lock`,
      );
    }
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions = {}): Promise<void> {
    assertValidKey(key);
    const { signal } = options;
    const fullKey = this.fullKey(key);
    // Always feed Upload a stream we own: destroying it is the one way to stop an Upload
    // that also waits for its in-flight parts and then aborts the multipart upload.
    // (Upload.abort() rejects done() at once while parts and the abort still run behind it.)
    const feed = Buffer.isBuffer(body) ? Readable.from([body], { objectMode: false }) : body;
    let bodyError: unknown;
    const onBodyError = (err: unknown): void => {
      bodyError ??= err;
    };
    if (!Buffer.isBuffer(body)) body.on('error', onBodyError);
    const onAbort = (): void => {
      feed.destroy(signal?.reason instanceof Error ? signal.reason : new Error('put aborted'));
    };

    this.inFlight.set(fullKey, (this.inFlight.get(fullKey) ?? 0) + 1);
    try {
      signal?.throwIfAborted();
      signal?.addEventListener('abort', onAbort, { once: true });
      const lock = this.objectLockSetting;
      const retainUntil = lock === undefined ? undefined : new Date(Date.now() + lock.days * 86_400_000);
      const upload = new Upload({
        client: this.uploadClient,
        params: {
          Bucket: this.bucket,
          Key: fullKey,
          Body: feed,
          ...(lock && retainUntil ? { ObjectLockMode: lock.mode, ObjectLockRetainUntilDate: retainUntil } : {}),
        },
        partSize: this.partSize,
        queueSize: this.queueSize,
        leavePartsOnError: false,
      });
      const done = await upload.done();
      if (lock && retainUntil && !signal?.aborted) await this.ensureLocked(key, done.VersionId, lock.mode, retainUntil);
      if (signal?.aborted) {
        // The abort came while the last request was on its way: the object exists now, but
        // the caller was promised nothing would be left behind.
        await this.uploadClient.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: fullKey })).catch(() => {});
        throw signal.reason;
      }
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (bodyError !== undefined) throw bodyError;
      throw await this.toStorageError(err, 'put', key);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      const n = (this.inFlight.get(fullKey) ?? 1) - 1;
      if (n === 0) this.inFlight.delete(fullKey);
      else this.inFlight.set(fullKey, n);
    }
  }

  /**
   * Makes sure the stored version carries the retention asked for. Measured on Ceph RGW 16.2:
   * a single PUT keeps its x-amz-object-lock-* headers, but an object completed from a
   * multipart upload whose CreateMultipartUpload carried them has no retention at all. So
   * every locked put is checked (one HEAD), and given its retention afterwards when missing.
   */
  private async ensureLocked(key: string, versionId: string | undefined, mode: 'GOVERNANCE' | 'COMPLIANCE', until: Date): Promise<void> {
    const Key = this.fullKey(key);
    const VersionId = versionId === undefined || versionId === 'null' ? undefined : versionId;
    const lockedLongEnough = async (): Promise<boolean> => {
      const head = await this.uploadClient.send(new HeadObjectCommand({ Bucket: this.bucket, Key, VersionId }));
      const at = head.ObjectLockRetainUntilDate?.getTime();
      // Stores may round the date to the second.
      return at !== undefined && at >= until.getTime() - 1000;
    };
    if (await lockedLongEnough()) return;
    await this.uploadClient.send(new PutObjectRetentionCommand({ Bucket: this.bucket, Key, VersionId, Retention: { Mode: mode, RetainUntilDate: until } }));
    if (!(await lockedLongEnough())) {
      throw new NgcpBackupError(`bucket ${this.bucket} at ${this.endpointLabel} did not keep the Object Lock retention of ${key} (repository.object_lock)`);
    }
  }

  async objectLock(key: string, now: Date = new Date()): Promise<ObjectLock | undefined> {
    assertValidKey(key);
    let head;
    try {
      head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
    } catch (err) {
      throw await this.toStorageError(err, 'stat', key);
    }
    const legalHold = head.ObjectLockLegalHoldStatus === 'ON';
    const until = head.ObjectLockRetainUntilDate;
    const retained = until !== undefined && until.getTime() > now.getTime();
    if (!legalHold && !retained) return undefined;
    return { legalHold, ...(retained ? { mode: head.ObjectLockMode, until } : {}) };
  }

  async removePrefix(prefix: string, options: { first?: string } = {}): Promise<number> {
    const entries = await this.versionsUnder(prefix);
    const keys = new Set(entries.map((e) => e.key));
    const drop = async (e: { key: string; versionId?: string }): Promise<void> => {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(e.key), VersionId: e.versionId }));
      } catch (err) {
        const mapped = await this.toStorageError(err, 'remove', e.key);
        if (!(mapped instanceof ObjectNotFoundError)) throw mapped;
      }
    };
    const { first } = options;
    for (const e of entries.filter((x) => x.key === first)) await drop(e);
    await forEachConcurrently(entries.filter((x) => x.key !== first), 8, drop);
    return keys.size;
  }

  /**
   * Every version and delete marker under prefix (a bucket that never had versioning gives one
   * "null" version per key). A store or a policy that does not allow ListObjectVersions gives
   * the plain listing: the objects are then only hidden in a versioned bucket.
   */
  private async versionsUnder(prefix: string): Promise<Array<{ key: string; versionId?: string }>> {
    const strip = this.prefix === '' ? 0 : this.prefix.length + 1;
    const out: Array<{ key: string; versionId?: string }> = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: this.fullKey(prefix), KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }),
        );
        for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
          if (v.Key === undefined) continue;
          out.push({ key: v.Key.slice(strip), versionId: v.VersionId });
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
      } while (keyMarker !== undefined);
      return out;
    } catch (err) {
      const code = codeOf(err);
      if (code !== 'NotImplemented' && code !== 'AccessDenied' && statusOf(err) !== 501) throw await this.toStorageError(err, 'list');
    }
    out.length = 0; // a refusal on a later page: start over with the plain listing
    for await (const o of this.list(prefix)) out.push({ key: o.key });
    return out;
  }

  async get(key: string): Promise<Readable> {
    assertValidKey(key);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
      if (!(out.Body instanceof Readable)) {
        throw new NgcpBackupError(`S3 get of ${key} returned no readable body`);
      }
      return out.Body;
    } catch (err) {
      throw await this.toStorageError(err, 'get', key);
    }
  }

  async stat(key: string): Promise<ObjectInfo> {
    assertValidKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
      return { key, size: out.ContentLength ?? 0 };
    } catch (err) {
      const mapped = await this.toStorageError(err, 'stat', key);
      // HEAD errors have no body, so a missing bucket looks like a missing object: ask
      // (only on this error path) which it is.
      if (mapped instanceof ObjectNotFoundError) await this.check();
      throw mapped;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const strip = this.prefix === '' ? 0 : this.prefix.length + 1;
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.fullKey(prefix), ContinuationToken: token }),
        );
      } catch (err) {
        throw await this.toStorageError(err, 'list');
      }
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield { key: object.Key.slice(strip), size: object.Size ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async remove(key: string): Promise<void> {
    assertValidKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
    } catch (err) {
      const mapped = await this.toStorageError(err, 'remove', key);
      if (mapped instanceof ObjectNotFoundError) return;
      throw mapped;
    }
  }

  async cleanupIncomplete(prefix: string): Promise<number> {
    let removed = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: this.fullKey(prefix),
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        );
      } catch (err) {
        throw await this.toStorageError(err, 'cleanup');
      }
      for (const upload of page.Uploads ?? []) {
        if (upload.Key === undefined || upload.UploadId === undefined || this.inFlight.has(upload.Key)) continue;
        try {
          await this.client.send(
            new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.Key, UploadId: upload.UploadId }),
          );
          removed++;
        } catch (err) {
          if (codeOf(err) === 'NoSuchUpload') continue; // finished or aborted meanwhile
          throw await this.toStorageError(err, 'cleanup');
        }
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker !== undefined);
    return removed;
  }

  /** Stops the client's sockets (keep-alive would otherwise hold the process open briefly). */
  destroy(): void {
    this.client.destroy();
    this.uploadClient.destroy();
  }

  private fullKey(key: string): string {
    return this.prefix === '' ? key : `${this.prefix}/${key}`;
  }

  private toStorageError(err: unknown, op: string, key?: string): Promise<Error> {
    return mapS3Error(err, { bucket: this.bucket, endpointLabel: this.endpointLabel, op, key, accessKeyId: () => this.accessKeyId() });
  }

  private async accessKeyId(): Promise<string | undefined> {
    try {
      const provider = this.client.config.credentials;
      const creds = await provider();
      return creds.accessKeyId;
    } catch {
      return undefined;
    }
  }
}
