import {
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import {
  ObjectNotFoundError,
  RepositoryAccessError,
  RepositoryUnreachableError,
} from '../../src/errors.js';
import { openStorage } from '../../src/repository/open-storage.js';
import { isTransient } from '../../src/repository/retry.js';
import { S3Storage, type S3StorageOptions } from '../../src/repository/s3/s3-storage.js';
import { s3TestRepository, TEST_ACCESS_KEY, TEST_SECRET_KEY, type S3TestRepository } from '../helpers/s3.js';
import { storageConformance } from '../helpers/storage-conformance.js';

const MiB = 1024 * 1024;

function storageFor(repo: S3TestRepository, extra: Partial<S3StorageOptions> = {}): S3Storage {
  return new S3Storage({
    bucket: repo.bucket,
    prefix: repo.prefix,
    endpoint: repo.endpoint,
    credentials: { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY },
    ...extra,
  });
}

async function multipartUploads(repo: S3TestRepository): Promise<string[]> {
  const out = await repo.client.send(new ListMultipartUploadsCommand({ Bucket: repo.bucket }));
  return (out.Uploads ?? []).map((u) => `${u.Key} ${u.UploadId}`);
}

storageConformance(test, 's3', async () => {
  const repo = await s3TestRepository();
  const storage = storageFor(repo);
  return {
    storage,
    async cleanup() {
      storage.destroy();
      await repo.cleanup();
    },
    leftovers: () => multipartUploads(repo),
    async makeLeftover(key) {
      const Key = `${repo.prefix}/${key}`;
      const { UploadId } = await repo.client.send(new CreateMultipartUploadCommand({ Bucket: repo.bucket, Key }));
      await repo.client.send(
        new UploadPartCommand({ Bucket: repo.bucket, Key, UploadId, PartNumber: 1, Body: randomBytes(1024) }),
      );
    },
  };
});

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A port on 127.0.0.1 with nothing listening. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('s3: stored bytes are exactly the bytes sent (no aws-chunked framing)', async (t) => {
  const repo = await s3TestRepository();
  const storage = storageFor(repo, { partSize: 5 * MiB });
  try {
    const cases: Array<[string, () => Buffer | Readable, Buffer]> = [];
    const small = randomBytes(70_000);
    const big = randomBytes(12 * MiB + 3);
    cases.push(['small-buffer', () => small, small]);
    cases.push(['small-stream', () => Readable.from([small.subarray(0, 1000), small.subarray(1000)]), small]);
    cases.push(['multipart-buffer', () => big, big]);
    cases.push(['multipart-stream', () => Readable.from([big.subarray(0, 7 * MiB), big.subarray(7 * MiB)]), big]);
    for (const [key, body, expected] of cases) {
      await storage.put(key, body());
      // Read back around the Storage, with a plain client: the object as the store has it.
      const Key = `${repo.prefix}/${key}`;
      const head = await repo.client.send(new HeadObjectCommand({ Bucket: repo.bucket, Key }));
      t.is(head.ContentLength, expected.length, key);
      const out = await repo.client.send(new GetObjectCommand({ Bucket: repo.bucket, Key }));
      const stored = Buffer.from(await out.Body!.transformToByteArray());
      t.is(stored.length, expected.length, key);
      t.is(sha256(stored), sha256(expected), key);
      t.false(stored.includes(Buffer.from(';chunk-signature=')), key);
      t.false(stored.includes(Buffer.from('x-amz-checksum-crc32:')), key);
    }
  } finally {
    storage.destroy();
    await repo.cleanup();
  }
});

test('s3: a failed multipart put aborts its upload (ListMultipartUploads)', async (t) => {
  const repo = await s3TestRepository();
  const storage = storageFor(repo, { partSize: 5 * MiB, queueSize: 2 });
  try {
    let sent = 0;
    let uploadsBeforeFailure: string[] = [];
    const body = new Readable({
      read() {
        if (sent >= 16 * MiB) {
          // Fail only once the store shows the multipart upload that is under way.
          void multipartUploads(repo).then((uploads) => {
            uploadsBeforeFailure = uploads;
            this.destroy(new Error('dump failed'));
          });
          return;
        }
        sent += MiB;
        this.push(randomBytes(MiB));
      },
    });
    await t.throwsAsync(storage.put('db/t1', body), { message: 'dump failed' });
    t.is(uploadsBeforeFailure.length, 1, 'a multipart upload was under way');
    t.true(uploadsBeforeFailure[0]!.startsWith(`${repo.prefix}/db/t1 `));
    t.deepEqual(await multipartUploads(repo), [], 'and it was aborted');
    await t.throwsAsync(storage.stat('db/t1'), { instanceOf: ObjectNotFoundError });
  } finally {
    storage.destroy();
    await repo.cleanup();
  }
});

test('s3: wrong credentials are a RepositoryAccessError without secrets', async (t) => {
  const repo = await s3TestRepository();
  const wrongSecret = 'WrongSecretPart-9f8e7d6c5b4a';
  const variants: Array<[string, { accessKeyId: string; secretAccessKey: string }]> = [
    ['wrong secret', { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: wrongSecret }],
    ['unknown access key', { accessKeyId: 'NOSUCHACCESSKEY', secretAccessKey: wrongSecret }],
  ];
  try {
    for (const [label, credentials] of variants) {
      const storage = storageFor(repo, { credentials, maxAttempts: 1 });
      const attempts: Array<[string, Promise<unknown>]> = [
        ['check', storage.check()],
        ['put', storage.put('x', Buffer.from('x'))],
        ['get', storage.get('x')],
        ['list', (async () => { for await (const _ of storage.list('')) void _; })()],
        ['cleanup', storage.cleanupIncomplete('')],
        ['remove', storage.remove('x')],
      ];
      for (const [op, attempt] of attempts) {
        const err = await t.throwsAsync(attempt, { instanceOf: RepositoryAccessError }, `${label} ${op}`);
        const everything = `${err?.message}\n${inspect(err, { depth: Infinity, showHidden: true })}`;
        t.false(everything.includes(wrongSecret), `${label} ${op}: no secret`);
        t.false(everything.includes(TEST_SECRET_KEY), `${label} ${op}: no real secret`);
        t.notRegex(everything, /Signature=|SignatureProvided|StringToSign|CanonicalRequest/, `${label} ${op}`);
        t.true(err!.message.includes(repo.bucket), `${label} ${op}: names the bucket`);
        t.true(err!.message.includes(repo.endpoint), `${label} ${op}: names the endpoint`);
      }
      storage.destroy();
    }
  } finally {
    await repo.cleanup();
  }
});

test('s3: a missing bucket is a RepositoryUnreachableError', async (t) => {
  const repo = await s3TestRepository();
  const storage = new S3Storage({
    bucket: `${repo.bucket}-absent`,
    prefix: 'p',
    endpoint: repo.endpoint,
    credentials: { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY },
  });
  try {
    const expected = `bucket ${repo.bucket}-absent does not exist at ${repo.endpoint}`;
    t.is((await t.throwsAsync(storage.check(), { instanceOf: RepositoryUnreachableError }))?.message, expected);
    t.is(
      (await t.throwsAsync(storage.put('a', Buffer.from('x')), { instanceOf: RepositoryUnreachableError }))?.message,
      expected,
    );
    await t.throwsAsync(storage.get('a'), { instanceOf: RepositoryUnreachableError });
    await t.throwsAsync(storage.stat('a'), { instanceOf: RepositoryUnreachableError });
    await t.throwsAsync(storage.remove('a'), { instanceOf: RepositoryUnreachableError });
    await t.throwsAsync(async () => {
      for await (const _ of storage.list('')) void _;
    }, { instanceOf: RepositoryUnreachableError });
    await t.throwsAsync(storage.cleanupIncomplete(''), { instanceOf: RepositoryUnreachableError });
  } finally {
    storage.destroy();
    await repo.cleanup();
  }
});

test('s3: an endpoint with nothing listening is a RepositoryUnreachableError, fast', async (t) => {
  const port = await deadPort();
  const storage = new S3Storage({
    bucket: 'some-bucket',
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    maxAttempts: 2,
  });
  const started = Date.now();
  const err = await t.throwsAsync(storage.check(), { instanceOf: RepositoryUnreachableError });
  t.regex(err!.message, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port} for bucket some-bucket \\(ECONNREFUSED\\)`));
  t.true(isTransient(err), 'connection refused is worth retrying later');
  await t.throwsAsync(storage.put('k', Buffer.from('x')), { instanceOf: RepositoryUnreachableError });
  t.true(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
  storage.destroy();
});

test('s3: an endpoint whose name does not resolve is a RepositoryUnreachableError', async (t) => {
  const storage = new S3Storage({
    bucket: 'some-bucket',
    endpoint: 'http://no-such-host.invalid:7480',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    maxAttempts: 1,
  });
  const err = await t.throwsAsync(storage.check(), { instanceOf: RepositoryUnreachableError });
  t.true(err!.message.includes('no-such-host.invalid'));
  storage.destroy();
});

test('s3: openStorage with credentials from the environment (standard AWS chain)', async (t) => {
  const repo = await s3TestRepository();
  const saved = { ...process.env };
  Object.assign(process.env, repo.env);
  try {
    const storage = openStorage(repo.url, { endpoint: repo.endpoint });
    await storage.check();
    await storage.put('snapshots/n/s/manifest.json', Buffer.from('{"ok":true}'));
    const keys: string[] = [];
    for await (const o of storage.list('snapshots/')) keys.push(o.key);
    t.deepEqual(keys, ['snapshots/n/s/manifest.json']);
    // Keys are stored under the URL's prefix.
    const head = await repo.client.send(
      new HeadObjectCommand({ Bucket: repo.bucket, Key: `${repo.prefix}/snapshots/n/s/manifest.json` }),
    );
    t.is(head.ContentLength, 11);
    (storage as S3Storage).destroy();
  } finally {
    process.env = saved;
    await repo.cleanup();
  }
});

test('s3: a repository at the bucket root (no prefix)', async (t) => {
  const repo = await s3TestRepository();
  const storage = storageFor(repo, { prefix: '' });
  try {
    await storage.put('a/b', Buffer.from('x'));
    const keys: string[] = [];
    for await (const o of storage.list('')) keys.push(o.key);
    t.deepEqual(keys, ['a/b']);
    const head = await repo.client.send(new HeadObjectCommand({ Bucket: repo.bucket, Key: 'a/b' }));
    t.is(head.ContentLength, 1);
  } finally {
    storage.destroy();
    await repo.cleanup();
  }
});

test('s3: isTransient', (t) => {
  t.true(isTransient(Object.assign(new Error('x'), { code: 'ECONNRESET' })));
  t.true(isTransient({ name: 'SlowDown', $metadata: { httpStatusCode: 503 } }));
  t.true(isTransient({ name: 'InternalError', $metadata: { httpStatusCode: 500 } }));
  t.true(isTransient(new Error('wrapped', { cause: Object.assign(new Error('x'), { code: 'ETIMEDOUT' }) })));
  t.false(isTransient({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
  t.false(isTransient({ name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } }));
  t.false(isTransient(new Error('plain')));
});
