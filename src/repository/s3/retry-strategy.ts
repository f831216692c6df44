import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { isTransient, retryDelay, type RetryEvent, type RetryPolicy } from '../retry.js';

/**
 * The AWS SDK's retry strategy, made to follow our policy (repository/retry.ts): the same test of
 * what is transient, the same delays and bound, each retry told to onRetry. Used only where the
 * SDK alone can send a request again: the parts of a streamed upload.
 */
export function sdkRetryStrategy(policy: RetryPolicy, onRetry: (event: RetryEvent) => void = () => {}): S3ClientConfig['retryStrategy'] {
  const token = (count: number, delay: number): RetryToken => ({ getRetryCount: () => count, getRetryDelay: () => delay });
  const strategy: RetryStrategyV2 = {
    acquireInitialRetryToken: async () => token(0, 0),
    refreshRetryTokenForRetry: async (previous: RetryToken, info: RetryErrorInfo) => {
      const retry = previous.getRetryCount() + 1;
      const transient = isTransient(info.error) || info.errorType === 'TRANSIENT' || info.errorType === 'THROTTLING' || info.errorType === 'SERVER_ERROR';
      if (retry >= policy.attempts || !transient) throw info.error ?? new Error('not retried');
      const delayMs = retryDelay(policy, retry);
      onRetry({ operation: 'upload part', retry, of: policy.attempts - 1, delayMs, error: info.error });
      return token(retry, delayMs);
    },
    recordSuccess: () => {},
  };
  return strategy;
}

/** The SDK's retry strategy interface (version 2), as far as we use it. */
interface RetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}
interface RetryErrorInfo {
  error?: unknown;
  errorType: 'TRANSIENT' | 'THROTTLING' | 'SERVER_ERROR' | 'CLIENT_ERROR';
}
interface RetryStrategyV2 {
  acquireInitialRetryToken(scope: string): Promise<RetryToken>;
  refreshRetryTokenForRetry(token: RetryToken, info: RetryErrorInfo): Promise<RetryToken>;
  recordSuccess(token: RetryToken): void;
}
