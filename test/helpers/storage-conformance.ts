import type { ExecutionContext, TestFn } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ObjectNotFoundError } from '../../src/errors.js';
import type { ObjectInfo, Storage } from '../../src/repository/storage.js';

/**
 * The one suite every Storage backend must pass (after restic's internal/backend/test).
 * Each backend's test file calls storageConformance with a factory for a fresh, empty
 * repository.
 */
export interface StorageFixture {
  storage: Storage;
  cleanup(): Promise<void>;
  /**
   * What the backend itself says is left over from unfinished puts (temporary files,
   * incomplete multipart uploads), looked up without going through the Storage.
   */
  leftovers?(): Promise<string[]>;
  /** Leaves behind what an interrupted put of key would, for cleanupIncomplete to find. */
  makeLeftover?(key: string): Promise<void>;
}

const MiB = 1024 * 1024;

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function sha256OfStream(stream: Readable): Promise<{ hash: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { hash: hash.digest('hex'), size };
}

async function listAll(storage: Storage, prefix: string): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const info of storage.list(prefix)) out.push(info);
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * A stream of `total` random bytes in 1 MiB chunks, produced only as fast as it is read
 * (so memory stays bounded), hashing what it produced. `onProduced(n)` sees the running
 * count; `failAt` makes it error once that many bytes have gone out.
 */
function randomStream(total: number, opts: { failAt?: number; onProduced?: (n: number) => void } = {}) {
  const hash = createHash('sha256');
  let produced = 0;
  const stream = new Readable({
    read() {
      if (opts.failAt !== undefined && produced >= opts.failAt) {
        this.destroy(new Error('body failed on purpose'));
        return;
      }
      if (produced >= total) {
        this.push(null);
        return;
      }
      const chunk = randomBytes(Math.min(MiB, total - produced));
      produced += chunk.length;
      hash.update(chunk);
      opts.onProduced?.(produced);
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

export function storageConformance(
  test: TestFn,
  name: string,
  make: () => Promise<StorageFixture>,
): void {
  /** Runs body with a fresh repository and always cleans it up. */
  const withRepo =
    (body: (t: ExecutionContext, fx: StorageFixture) => Promise<void>) => async (t: ExecutionContext) => {
      const fx = await make();
      try {
        await body(t, fx);
      } finally {
        await fx.cleanup();
      }
    };

  const assertNothingLeft = async (t: ExecutionContext, fx: StorageFixture, key: string) => {
    await t.throwsAsync(fx.storage.stat(key), { instanceOf: ObjectNotFoundError });
    t.deepEqual(await listAll(fx.storage, ''), []);
    if (fx.leftovers) t.deepEqual(await fx.leftovers(), [], 'no temporary file / multipart upload left');
    t.is(await fx.storage.cleanupIncomplete(''), 0);
  };

  test(`${name}: check() accepts a fresh repository`, withRepo(async (t, { storage }) => {
    await t.notThrowsAsync(storage.check());
    t.is(typeof storage.location, 'string');
  }));

  test(`${name}: put/get round trip of a Buffer`, withRepo(async (t, { storage }) => {
    const data = randomBytes(100_000);
    await storage.put('snapshots/n1/s1/manifest.json', data);
    t.deepEqual(await readAll(await storage.get('snapshots/n1/s1/manifest.json')), data);
    t.deepEqual(await storage.stat('snapshots/n1/s1/manifest.json'), {
      key: 'snapshots/n1/s1/manifest.json',
      size: data.length,
    });
  }));

  test(`${name}: put/get round trip of a stream`, withRepo(async (t, { storage }) => {
    const { stream, digest } = randomStream(3 * MiB + 17);
    await storage.put('a/stream.bin', stream);
    const got = await sha256OfStream(await storage.get('a/stream.bin'));
    t.is(got.hash, digest());
    t.is(got.size, 3 * MiB + 17);
    t.is((await storage.stat('a/stream.bin')).size, 3 * MiB + 17);
  }));

  test(`${name}: empty objects, from a Buffer and from a stream`, withRepo(async (t, { storage }) => {
    await storage.put('empty/buffer', Buffer.alloc(0));
    await storage.put('empty/stream', Readable.from([], { objectMode: false }));
    for (const key of ['empty/buffer', 'empty/stream']) {
      t.is((await readAll(await storage.get(key))).length, 0, key);
      t.is((await storage.stat(key)).size, 0, key);
    }
    t.deepEqual(
      (await listAll(storage, 'empty/')).map((o) => [o.key, o.size]),
      [['empty/buffer', 0], ['empty/stream', 0]],
    );
  }));

  test(`${name}: a 30 MiB stream round trip (multipart), sha256 compared`, withRepo(async (t, { storage }) => {
    const size = 30 * MiB;
    const { stream, digest } = randomStream(size);
    await storage.put('db/ngcp/big.zst.age', stream);
    t.is((await storage.stat('db/ngcp/big.zst.age')).size, size);
    const got = await sha256OfStream(await storage.get('db/ngcp/big.zst.age'));
    t.is(got.size, size);
    t.is(got.hash, digest());
    t.deepEqual(await listAll(storage, 'db/'), [{ key: 'db/ngcp/big.zst.age', size }]);
  }));

  test(`${name}: list with a prefix, nested keys`, withRepo(async (t, { storage }) => {
    const keys = ['a/b/c', 'a/b/d', 'a/e', 'ab/f', 'b/g', 'top'];
    await Promise.all(keys.map((k, i) => storage.put(k, Buffer.alloc(i + 1, 120))));
    const keysOf = async (prefix: string) => (await listAll(storage, prefix)).map((o) => o.key);
    t.deepEqual(await keysOf(''), [...keys].sort());
    t.deepEqual(await keysOf('a/'), ['a/b/c', 'a/b/d', 'a/e']);
    t.deepEqual(await keysOf('a'), ['a/b/c', 'a/b/d', 'a/e', 'ab/f']);
    t.deepEqual(await keysOf('a/b/'), ['a/b/c', 'a/b/d']);
    t.deepEqual(await keysOf('a/b/c'), ['a/b/c']);
    t.deepEqual(await keysOf('t'), ['top']);
    t.deepEqual(await keysOf('nothing/'), []);
    t.deepEqual(await keysOf('a/b/c/'), []);
    t.deepEqual(await listAll(storage, 'a/b/'), [
      { key: 'a/b/c', size: 1 },
      { key: 'a/b/d', size: 2 },
    ]);
  }));

  test(`${name}: remove, and remove of a missing key is fine`, withRepo(async (t, { storage }) => {
    await storage.put('x/one', Buffer.from('1'));
    await storage.put('x/two', Buffer.from('2'));
    await storage.remove('x/one');
    await t.throwsAsync(storage.stat('x/one'), { instanceOf: ObjectNotFoundError });
    await t.throwsAsync(storage.get('x/one'), { instanceOf: ObjectNotFoundError });
    t.deepEqual((await listAll(storage, '')).map((o) => o.key), ['x/two']);
    await t.notThrowsAsync(storage.remove('x/one'));
    await t.notThrowsAsync(storage.remove('never/was'));
    t.deepEqual((await listAll(storage, '')).map((o) => o.key), ['x/two']);
  }));

  test(`${name}: removePrefix removes everything under the prefix, first key first, nothing else`, withRepo(async (t, { storage }) => {
    for (const k of ['s/1/manifest.json', 's/1/a', 's/1/db/b', 's/10/a', 's/2/a']) await storage.put(k, Buffer.from(k));
    await storage.put('s/1/a', Buffer.from('second version'));
    const order: string[] = [];
    const watched = Object.assign(Object.create(storage) as typeof storage, {
      remove: (k: string) => (order.push(k), storage.remove(k)),
    });
    t.is(await storage.removePrefix('s/1/', { first: 's/1/manifest.json' }), 3);
    t.deepEqual((await listAll(storage, '')).map((o) => o.key), ['s/10/a', 's/2/a']);
    t.is(await storage.removePrefix('s/1/'), 0);
    // Backends that remove through remove() must honour `first`; others are checked by their own tests.
    await storage.put('s/3/manifest.json', Buffer.from('m'));
    await storage.put('s/3/x', Buffer.from('x'));
    await watched.removePrefix('s/3/', { first: 's/3/manifest.json' });
    if (order.length > 0) t.is(order[0], 's/3/manifest.json');
    t.deepEqual((await listAll(storage, 's/3/')).map((o) => o.key), []);
  }));

  test(`${name}: objectLock of an unlocked object is undefined, of a missing one ObjectNotFoundError`, withRepo(async (t, { storage }) => {
    await storage.put('k', Buffer.from('x'));
    t.is(await storage.objectLock('k'), undefined);
    await t.throwsAsync(storage.objectLock('missing'), { instanceOf: ObjectNotFoundError });
  }));

  test(`${name}: get/stat of a missing key is ObjectNotFoundError`, withRepo(async (t, { storage }) => {
    await storage.put('dir/file', Buffer.from('x'));
    for (const key of ['missing', 'dir/missing', 'dir', 'dir/file/below']) {
      const e1 = await t.throwsAsync(storage.get(key), { instanceOf: ObjectNotFoundError }, `get ${key}`);
      t.is(e1?.key, key);
      const e2 = await t.throwsAsync(storage.stat(key), { instanceOf: ObjectNotFoundError }, `stat ${key}`);
      t.is(e2?.key, key);
    }
  }));

  test(`${name}: overwrite replaces the object`, withRepo(async (t, { storage }) => {
    await storage.put('k', randomBytes(5000));
    const second = Buffer.from('second version');
    await storage.put('k', second);
    t.deepEqual(await readAll(await storage.get('k')), second);
    t.is((await storage.stat('k')).size, second.length);
    t.deepEqual(await listAll(storage, ''), [{ key: 'k', size: second.length }]);
  }));

  test(`${name}: keys with = + : spaces and other characters`, withRepo(async (t, { storage }) => {
    const keys = [
      'db/ngcp/voip=sub+scribers:1 2.sql',
      'a b/c d',
      'cdr/node 1/2026-11-21T02:30:00Z+01:00.zst.age',
      'odd/~!$&\'()*,;@[]%20ü€',
      'odd/.dotfile',
    ];
    for (const [i, key] of keys.entries()) await storage.put(key, Buffer.from(`value ${i}`));
    t.deepEqual((await listAll(storage, '')).map((o) => o.key), [...keys].sort());
    for (const [i, key] of keys.entries()) {
      t.is((await readAll(await storage.get(key))).toString(), `value ${i}`, key);
      t.is((await storage.stat(key)).size, `value ${i}`.length, key);
    }
    t.deepEqual((await listAll(storage, 'db/ngcp/voip=sub+')).map((o) => o.key), [keys[0]]);
    for (const key of keys) await storage.remove(key);
    t.deepEqual(await listAll(storage, ''), []);
  }));

  test(`${name}: invalid keys are refused`, withRepo(async (t, { storage }) => {
    for (const key of ['', '/abs', 'a//b', '../up', 'a/./b', 'a/../b', 'trailing/']) {
      await t.throwsAsync(storage.put(key, Buffer.from('x')), undefined, JSON.stringify(key));
    }
    t.deepEqual(await listAll(storage, ''), []);
  }));

  test(`${name}: a body that errors mid-way leaves no object`, withRepo(async (t, fx) => {
    // 20 MiB before the error: past the first multipart parts, so a backend that uploads in
    // parts has started one.
    const { stream } = randomStream(40 * MiB, { failAt: 20 * MiB });
    const err = await t.throwsAsync(fx.storage.put('fails/midway', stream));
    t.is(err?.message, 'body failed on purpose', 'the body error itself, unchanged');
    await assertNothingLeft(t, fx, 'fails/midway');
  }));

  test(`${name}: a body that errors mid-way does not replace the old object`, withRepo(async (t, fx) => {
    await fx.storage.put('keep', Buffer.from('old'));
    const { stream } = randomStream(10 * MiB, { failAt: 2 * MiB });
    await t.throwsAsync(fx.storage.put('keep', stream), { message: 'body failed on purpose' });
    t.is((await readAll(await fx.storage.get('keep'))).toString(), 'old');
  }));

  test(`${name}: a put aborted via AbortSignal mid-way leaves no object`, withRepo(async (t, fx) => {
    const controller = new AbortController();
    const reason = new Error('stopped by the test');
    const { stream } = randomStream(Number.MAX_SAFE_INTEGER, {
      onProduced: (n) => {
        if (n >= 20 * MiB && !controller.signal.aborted) controller.abort(reason);
      },
    });
    const err = await t.throwsAsync(fx.storage.put('aborted/midway', stream, { signal: controller.signal }));
    t.is(err, reason, 'rejects with the signal reason');
    await assertNothingLeft(t, fx, 'aborted/midway');
  }));

  test(`${name}: a put with an already aborted signal stores nothing`, withRepo(async (t, fx) => {
    const reason = new Error('aborted before it began');
    const err = await t.throwsAsync(
      fx.storage.put('aborted/early', Buffer.from('x'), { signal: AbortSignal.abort(reason) }),
    );
    t.is(err, reason);
    await assertNothingLeft(t, fx, 'aborted/early');
  }));

  test(`${name}: a Buffer put aborted while in flight stores nothing`, withRepo(async (t, fx) => {
    const controller = new AbortController();
    const reason = new Error('stopped during a buffer put');
    const done = fx.storage.put('aborted/buffer', randomBytes(24 * MiB), { signal: controller.signal });
    setImmediate(() => controller.abort(reason));
    const err = await t.throwsAsync(done);
    t.is(err, reason);
    await assertNothingLeft(t, fx, 'aborted/buffer');
  }));

  test(`${name}: concurrent puts of different keys`, withRepo(async (t, { storage }) => {
    const items = Array.from({ length: 12 }, (_, i) => ({ key: `par/${i % 3}/obj-${i}`, data: randomBytes(1000 + i) }));
    await Promise.all(items.map((i) => storage.put(i.key, i.data)));
    for (const i of items) t.is(sha256(await readAll(await storage.get(i.key))), sha256(i.data));
    t.is((await listAll(storage, 'par/')).length, items.length);
  }));

  test(`${name}: cleanupIncomplete removes leftovers under the prefix only`, withRepo(async (t, fx) => {
    if (!fx.makeLeftover || !fx.leftovers) {
      t.pass('backend cannot fabricate leftovers');
      return;
    }
    await fx.storage.put('snapshots/s1/done', Buffer.from('complete'));
    await fx.makeLeftover('snapshots/s1/db/a');
    await fx.makeLeftover('snapshots/s1/db/b');
    await fx.makeLeftover('cdr/c');
    t.is((await fx.leftovers()).length, 3);
    t.deepEqual((await listAll(fx.storage, '')).map((o) => o.key), ['snapshots/s1/done'], 'leftovers are not objects');
    t.is(await fx.storage.cleanupIncomplete('snapshots/'), 2);
    t.is((await fx.leftovers()).length, 1);
    t.is(await fx.storage.cleanupIncomplete(''), 1);
    t.deepEqual(await fx.leftovers(), []);
    t.is(await fx.storage.cleanupIncomplete(''), 0);
    t.is((await readAll(await fx.storage.get('snapshots/s1/done'))).toString(), 'complete');
  }));

  test(`${name}: get streams can be read concurrently with other operations`, withRepo(async (t, { storage }) => {
    const a = randomBytes(2 * MiB);
    const b = randomBytes(2 * MiB);
    await storage.put('c/a', a);
    await storage.put('c/b', b);
    const [sa, sb] = await Promise.all([storage.get('c/a'), storage.get('c/b')]);
    const [ra, rb] = await Promise.all([readAll(sa), readAll(sb)]);
    t.is(sha256(ra), sha256(a));
    t.is(sha256(rb), sha256(b));
  }));
}
