import test from 'ava';
import { Readable } from 'node:stream';
import { ObjectNotFoundError, RepositoryUnreachableError } from '../../src/errors.js';
import { isTransient, retryDelay, RetryingStorage, withRetries, type RetryEvent, type RetryPolicy } from '../../src/repository/retry.js';
import { sdkRetryStrategy } from '../../src/repository/s3/retry-strategy.js';
import type { ObjectInfo, Storage } from '../../src/repository/storage.js';

const fast: RetryPolicy = { attempts: 4, baseDelayMs: 1, maxDelayMs: 4 };
const transient = () => new RepositoryUnreachableError('endpoint down', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) });

test('isTransient: network codes, throttling and 5xx anywhere in the cause chain; not 4xx', (t) => {
  t.true(isTransient(Object.assign(new Error('x'), { code: 'ECONNRESET' })));
  t.true(isTransient({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } }));
  t.true(isTransient({ name: 'Whatever', $metadata: { httpStatusCode: 429 } }));
  t.true(isTransient(transient()));
  t.false(isTransient({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
  t.false(isTransient(new ObjectNotFoundError('k')));
  t.false(isTransient(new Error('plain')));
});

test('retryDelay doubles from the base, is capped, and is jittered between half and all of it', (t) => {
  const p: RetryPolicy = { attempts: 9, baseDelayMs: 500, maxDelayMs: 20_000 };
  t.is(retryDelay(p, 1, () => 1), 500);
  t.is(retryDelay(p, 1, () => 0), 250);
  t.is(retryDelay(p, 3, () => 1), 2000);
  t.is(retryDelay(p, 10, () => 1), 20_000);
  t.is(retryDelay(p, 10, () => 0), 10_000);
});

test('withRetries: transient failures are retried up to the bound, each retry told; the last error is thrown', async (t) => {
  const events: RetryEvent[] = [];
  let calls = 0;
  const err = await t.throwsAsync(withRetries(fast, 'get k', async () => {
    calls++;
    throw transient();
  }, { onRetry: (e) => events.push(e) }));
  t.true(err instanceof RepositoryUnreachableError);
  t.is(calls, 4);
  t.deepEqual(events.map((e) => [e.operation, e.retry, e.of]), [['get k', 1, 3], ['get k', 2, 3], ['get k', 3, 3]]);
});

test('withRetries: a permanent failure fails at once; a success after failures is returned', async (t) => {
  let calls = 0;
  await t.throwsAsync(withRetries(fast, 'x', async () => {
    calls++;
    throw new ObjectNotFoundError('k');
  }), { instanceOf: ObjectNotFoundError });
  t.is(calls, 1);
  calls = 0;
  t.is(await withRetries(fast, 'x', async () => (++calls < 3 ? Promise.reject(transient()) : 'ok')), 'ok');
  t.is(calls, 3);
});

test('withRetries: an aborted signal stops the wait', async (t) => {
  const ac = new AbortController();
  const slow: RetryPolicy = { attempts: 3, baseDelayMs: 60_000, maxDelayMs: 60_000 };
  const p = withRetries(slow, 'x', async () => Promise.reject(transient()), { signal: ac.signal });
  setTimeout(() => ac.abort(new Error('stop')), 20);
  const t0 = Date.now();
  await t.throwsAsync(p);
  t.true(Date.now() - t0 < 10_000);
});

/** A storage whose operations fail `failures` times first. */
function flaky(failures: number, keys: string[] = []): Storage & { calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const count = (op: string) => (calls[op] = (calls[op] ?? 0) + 1);
  const maybeFail = (op: string) => {
    if (count(op) <= failures) throw transient();
  };
  return {
    calls,
    location: 'test://',
    check: async () => maybeFail('check'),
    put: async (_k, body) => {
      maybeFail('put');
      if (!Buffer.isBuffer(body)) for await (const _ of body) { /* drain */ }
    },
    get: async () => (maybeFail('get'), Readable.from([Buffer.from('x')])),
    stat: async (key) => (maybeFail('stat'), { key, size: 1 }),
    async *list(): AsyncIterable<ObjectInfo> {
      const round = count('list');
      for (const [i, key] of keys.entries()) {
        if (round <= failures && i === 2) throw transient();
        yield { key, size: 1 };
      }
    },
    remove: async () => maybeFail('remove'),
    removePrefix: async () => (maybeFail('removePrefix'), 0),
    objectLock: async () => (maybeFail('objectLock'), undefined),
    cleanupIncomplete: async () => (maybeFail('cleanupIncomplete'), 0),
  };
}

test('RetryingStorage retries every operation, and a put only with a body it can send again', async (t) => {
  const inner = flaky(2);
  const events: RetryEvent[] = [];
  const s = new RetryingStorage(inner, fast, (e) => events.push(e));
  await s.check();
  await s.stat('a');
  await s.get('a');
  await s.remove('a');
  await s.put('a', Buffer.from('x'));
  t.is(inner.calls['put'], 3);
  const streamed = flaky(1);
  await t.throwsAsync(new RetryingStorage(streamed, fast).put('b', Readable.from([Buffer.from('x')])), { instanceOf: RepositoryUnreachableError }, 'a stream is spent: the backend retries its parts');
  t.is(streamed.calls['put'], 1);
  t.is(inner.calls['check'], 3);
  t.true(events.some((e) => e.operation === 'put a'));
  t.is(s.location, 'test://');
});

test('RetryingStorage: a listing that fails part-way starts again without giving a key twice', async (t) => {
  const keys = ['a', 'b', 'c', 'd', 'e'];
  const s = new RetryingStorage(flaky(2, keys), fast);
  const got: string[] = [];
  for await (const o of s.list('')) got.push(o.key);
  t.deepEqual(got, keys);
});

test("the SDK's retry strategy follows the same policy", async (t) => {
  const events: RetryEvent[] = [];
  const strategy = sdkRetryStrategy(fast, (e) => events.push(e)) as unknown as {
    acquireInitialRetryToken(s: string): Promise<{ getRetryCount(): number; getRetryDelay(): number }>;
    refreshRetryTokenForRetry(tok: unknown, info: { error?: unknown; errorType: string }): Promise<{ getRetryCount(): number; getRetryDelay(): number }>;
  };
  let token = await strategy.acquireInitialRetryToken('');
  for (let i = 1; i < fast.attempts; i++) {
    token = await strategy.refreshRetryTokenForRetry(token, { error: Object.assign(new Error('x'), { code: 'ECONNRESET' }), errorType: 'TRANSIENT' });
    t.is(token.getRetryCount(), i);
    t.true(token.getRetryDelay() <= fast.maxDelayMs);
  }
  await t.throwsAsync(strategy.refreshRetryTokenForRetry(token, { error: new Error('again'), errorType: 'TRANSIENT' }), { message: 'again' }, 'the bound');
  const fresh = await strategy.acquireInitialRetryToken('');
  await t.throwsAsync(strategy.refreshRetryTokenForRetry(fresh, { error: Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }), errorType: 'CLIENT_ERROR' }), { message: 'denied' });
  t.is(events.length, fast.attempts - 1);
});
