/**
 * Retry, in one visible place (restic's backend/retry): a Storage wrapper that owns the policy.
 * Transient failures (network trouble, throttling, a 5xx) are tried again after a growing,
 * jittered delay, up to a bound, each retry told to onRetry (a log line); anything else fails at
 * once. The S3 backend sends its own requests with no retry of the SDK's, except the parts of a
 * streamed upload, which only the SDK can send again: those follow the same policy
 * (s3/retry-strategy.ts). docs/design.md, "Bounded time".
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ObjectInfo, ObjectLock, PutOptions, Storage } from './storage.js';

export interface RetryPolicy {
  /** Attempts per operation, the first included (1: no retry). */
  attempts: number;
  /** The delay before the first retry; each next one doubles, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 20_000 };

/** What onRetry is told: which operation, which retry (1 = the second attempt), after what. */
export interface RetryEvent {
  operation: string;
  retry: number;
  of: number;
  delayMs: number;
  error: unknown;
}

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'TimeoutError',
  'RequestTimeout', 'RequestTimeoutException', 'SlowDown', 'Throttling', 'ThrottlingException',
  'TooManyRequestsException', 'RequestThrottled', 'InternalError', 'ServiceUnavailable',
]);

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; Code?: unknown; name?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (typeof e.Code === 'string') return e.Code;
  return typeof e.name === 'string' && e.name !== 'Error' ? e.name : undefined;
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { $metadata?: { httpStatusCode?: unknown }; httpStatusCode?: unknown };
  const s = e.$metadata?.httpStatusCode ?? e.httpStatusCode;
  return typeof s === 'number' ? s : undefined;
}

/** A failure worth another attempt later: network trouble, throttling, a 5xx (anywhere in the cause chain). */
export function isTransient(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    const code = codeOf(e);
    const status = statusOf(e);
    if (code !== undefined && TRANSIENT_CODES.has(code)) return true;
    if (status !== undefined && (status >= 500 || status === 429)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** The delay before retry n (1-based): base * 2^(n-1), at most maxDelayMs, between half and all of it. */
export function retryDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const full = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.round(full / 2 + (full / 2) * random());
}

/**
 * Runs fn until it succeeds, fails with an error that is not transient, or the policy's attempts
 * are spent; the last error is thrown. A signal stops the waiting at once.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  operation: string,
  fn: () => Promise<T>,
  options: { signal?: AbortSignal; onRetry?: (event: RetryEvent) => void } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= policy.attempts || !isTransient(error) || options.signal?.aborted) throw error;
      const delayMs = retryDelay(policy, attempt);
      options.onRetry?.({ operation, retry: attempt, of: policy.attempts - 1, delayMs, error });
      await sleep(delayMs, undefined, { signal: options.signal });
    }
  }
}

/**
 * A Storage whose operations are retried by the policy. A put with a stream body cannot be sent
 * again from here (the stream is spent): the backend retries its parts.
 */
export class RetryingStorage implements Storage {
  constructor(
    readonly inner: Storage,
    readonly policy: RetryPolicy,
    private readonly onRetry: (event: RetryEvent) => void = () => {},
  ) {}

  get location(): string {
    return this.inner.location;
  }

  private run<T>(operation: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withRetries(this.policy, operation, fn, { signal, onRetry: this.onRetry });
  }

  check(): Promise<void> {
    return this.run('check', () => this.inner.check());
  }

  put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<void> {
    if (!Buffer.isBuffer(body)) return this.inner.put(key, body, options);
    return this.run(`put ${key}`, () => this.inner.put(key, body, options), options?.signal);
  }

  get(key: string): Promise<Readable> {
    return this.run(`get ${key}`, () => this.inner.get(key));
  }

  stat(key: string): Promise<ObjectInfo> {
    return this.run(`stat ${key}`, () => this.inner.stat(key));
  }

  /** A listing that fails part-way starts again and skips what it already gave (listings are ordered). */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let given = 0;
    for (let attempt = 1; ; attempt++) {
      let seen = 0;
      try {
        for await (const o of this.inner.list(prefix)) {
          if (seen++ < given) continue;
          given++;
          yield o;
        }
        return;
      } catch (error) {
        if (attempt >= this.policy.attempts || !isTransient(error)) throw error;
        const delayMs = retryDelay(this.policy, attempt);
        this.onRetry({ operation: `list ${prefix}`, retry: attempt, of: this.policy.attempts - 1, delayMs, error });
        await sleep(delayMs);
      }
    }
  }

  remove(key: string): Promise<void> {
    return this.run(`remove ${key}`, () => this.inner.remove(key));
  }

  removePrefix(prefix: string, options?: { first?: string }): Promise<number> {
    return this.run(`remove ${prefix}`, () => this.inner.removePrefix(prefix, options));
  }

  objectLock(key: string, now?: Date): Promise<ObjectLock | undefined> {
    return this.run(`object lock of ${key}`, () => this.inner.objectLock(key, now));
  }

  cleanupIncomplete(prefix: string): Promise<number> {
    return this.run(`cleanup of ${prefix}`, () => this.inner.cleanupIncomplete(prefix));
  }

  /** Stops the backend's sockets, when it has any. */
  destroy(): void {
    (this.inner as { destroy?: () => void }).destroy?.();
  }
}
