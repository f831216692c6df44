import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { FileStorage } from './file-storage.js';
import { S3Storage, type S3StorageOptions } from './s3/s3-storage.js';
import { DEFAULT_RETRY, RetryingStorage } from './retry.js';
import type { Storage } from './storage.js';

export type OpenStorageOptions = Pick<
  S3StorageOptions,
  'endpoint' | 'region' | 'pathStyle' | 'partSize' | 'queueSize' | 'maxAttempts' | 'credentials' | 'objectLock' | 'retry' | 'onRetry'
>;

const KEY = 'repository.url';

/**
 * The Storage a repository URL names, `file:///abs/dir` or `s3://bucket[/prefix]`, with its
 * wrappers (retry: repository/retry.ts) stacked here and nowhere else.
 * S3 options apply to `s3://` only; credentials come from the standard AWS chain unless given.
 * Never echoes the URL in an error: an operator may have pasted credentials into it.
 */
export function openStorage(url: string, options: OpenStorageOptions = {}): Storage {
  const policy = { ...(options.retry ?? DEFAULT_RETRY), ...(options.maxAttempts !== undefined ? { attempts: options.maxAttempts } : {}) };
  return new RetryingStorage(openBackend(url, options), policy, options.onRetry);
}

function openBackend(url: string, options: OpenStorageOptions): Storage {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    throw new ConfigError(
      `${KEY} has no scheme; use file:///absolute/dir or s3://bucket/prefix`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`${KEY} is not a valid URL (expected file:///absolute/dir or s3://bucket/prefix)`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new ConfigError(
      `${KEY} must not contain credentials; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a credentials file`,
    );
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new ConfigError(`${KEY} must not have a query or fragment`);
  }

  switch (scheme) {
    case 'file': {
      // `file:rel` parses as /rel: insist on the absolute form instead of guessing.
      if (!/^file:\/\/(localhost)?\//i.test(url)) {
        throw new ConfigError(`${KEY} must be an absolute file URL: file:///absolute/dir`);
      }
      let path: string;
      try {
        path = fileURLToPath(parsed);
      } catch (err) {
        throw new ConfigError(`${KEY}: ${(err as Error).message}`, { cause: err });
      }
      if (options.objectLock !== undefined) {
        throw new ConfigError('repository.object_lock is only for s3:// repositories (a file:// directory cannot lock objects)');
      }
      return new FileStorage(path);
    }
    case 's3': {
      const bucket = parsed.hostname;
      if (bucket === '') throw new ConfigError(`${KEY} names no bucket (expected s3://bucket/prefix)`);
      let prefix: string;
      try {
        prefix = decodeURIComponent(parsed.pathname).replace(/^\/+|\/+$/g, '');
      } catch (err) {
        throw new ConfigError(`${KEY} has a badly escaped prefix`, { cause: err });
      }
      if (prefix.split('/').some((s) => s === '' || s === '.' || s === '..') && prefix !== '') {
        throw new ConfigError(`${KEY} has an empty, '.' or '..' segment in its prefix`);
      }
      return new S3Storage({ ...options, bucket, prefix });
    }
    default:
      throw new ConfigError(
        `${KEY} has an unsupported scheme "${scheme}:"; use file:///absolute/dir or s3://bucket/prefix`,
      );
  }
}
