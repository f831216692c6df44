import test from 'ava';
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout } from 'node:timers/promises';
import { ConfigError, RepositoryUnreachableError } from '../../src/errors.js';
import { FileStorage } from '../../src/repository/file-storage.js';
import { openStorage } from '../../src/repository/open-storage.js';
import { RetryingStorage } from '../../src/repository/retry.js';
import { S3Storage } from '../../src/repository/s3/s3-storage.js';
import { storageConformance } from '../helpers/storage-conformance.js';

async function tempsUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && /\.tmp-/.test(e.name)).map((e) => join(e.parentPath, e.name));
}

storageConformance(test, 'file', async () => {
  const root = await mkdtemp(join(tmpdir(), 'ngcp-backup-file-storage-'));
  return {
    storage: new FileStorage(root),
    cleanup: () => rm(root, { recursive: true, force: true }),
    leftovers: () => tempsUnder(root),
    async makeLeftover(key) {
      const path = join(root, key);
      await mkdir(dirname(path), { recursive: true });
      const temp = join(dirname(path), `.${key.split('/').pop()}.tmp-0123456789abcdef`);
      await writeFile(temp, 'partial');
    },
  };
});

test('file: objects are 0600, directories it creates 0700', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'ngcp-backup-file-modes-'));
  const previous = process.umask(0o022);
  try {
    const storage = new FileStorage(root);
    await storage.put('snapshots/n1/s1/manifest.json', Buffer.from('{}'));
    await storage.put('snapshots/n1/s1/db/x', Buffer.from('x'));
    t.is((await stat(join(root, 'snapshots/n1/s1/manifest.json'))).mode & 0o777, 0o600);
    for (const dir of ['snapshots', 'snapshots/n1', 'snapshots/n1/s1', 'snapshots/n1/s1/db']) {
      t.is((await stat(join(root, dir))).mode & 0o777, 0o700, dir);
    }
  } finally {
    process.umask(previous);
    await rm(root, { recursive: true, force: true });
  }
});

test('file: check() names a missing directory', async (t) => {
  const root = join(tmpdir(), `ngcp-backup-missing-${process.pid}-${Date.now()}`);
  const storage = new FileStorage(root);
  const err = await t.throwsAsync(storage.check(), { instanceOf: RepositoryUnreachableError });
  t.true(err!.message.includes(root));
  // Other operations on a missing repository say so too, rather than "object missing".
  await t.throwsAsync(storage.get('a'), { instanceOf: RepositoryUnreachableError });
  await t.throwsAsync(storage.stat('a/b'), { instanceOf: RepositoryUnreachableError });
  await t.throwsAsync(storage.put('a/b', Buffer.from('x')), { instanceOf: RepositoryUnreachableError });
  await t.throwsAsync(async () => {
    for await (const _ of storage.list('')) void _;
  }, { instanceOf: RepositoryUnreachableError });
  await t.throwsAsync(storage.remove('a'), { instanceOf: RepositoryUnreachableError });
  await t.throwsAsync(stat(root), { code: 'ENOENT' }, 'put did not create the repository');
});

test('file: check() refuses a path that is a file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ngcp-backup-file-notdir-'));
  try {
    await writeFile(join(dir, 'plain'), 'x');
    const err = await t.throwsAsync(new FileStorage(join(dir, 'plain')).check(), {
      instanceOf: RepositoryUnreachableError,
    });
    t.true(err!.message.includes(join(dir, 'plain')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('file: a temporary file sits beside its target and is not listed', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'ngcp-backup-file-temp-'));
  try {
    const storage = new FileStorage(root);
    await storage.put('d/real', Buffer.from('r'));
    // A put that is still running: its temporary file must not count as an object, and a
    // cleanup in the same process must not pull it from under the put.
    const body = new Readable({ read() {} });
    body.push(Buffer.from('partial'));
    const running = storage.put('d/slow', body);
    for (let i = 0; i < 100 && (await tempsUnder(root)).length === 0; i++) await setTimeout(10);
    const temps = await tempsUnder(root);
    t.is(temps.length, 1);
    t.regex(temps[0]!, /\/d\/\.slow\.tmp-[0-9a-f]{16}$/);
    t.is((await stat(temps[0]!)).mode & 0o777, 0o600);
    const keys: string[] = [];
    for await (const o of storage.list('')) keys.push(o.key);
    t.deepEqual(keys, ['d/real']);
    t.is(await storage.cleanupIncomplete(''), 0, 'in-flight temporary file left alone');
    body.push(null);
    await running;
    t.is((await readdir(join(root, 'd'))).sort().join(','), 'real,slow');
    t.deepEqual(await tempsUnder(root), []);
    const old = new Date(Date.now() - 3_600_000);
    await writeFile(join(root, 'd/.crashed.tmp-fedcba9876543210'), 'x');
    await utimes(join(root, 'd/.crashed.tmp-fedcba9876543210'), old, old);
    t.is(await storage.cleanupIncomplete('d/'), 1);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

// openStorage wraps the backend it picks in the retry policy (repository/retry.ts).
const backend = (s: ReturnType<typeof openStorage>) => (s as RetryingStorage).inner;

test('openStorage: file:// URLs', (t) => {
  const storage = openStorage('file:///var/backups/ngcp');
  t.true(storage instanceof RetryingStorage);
  t.true(backend(storage) instanceof FileStorage);
  t.is((backend(storage) as FileStorage).root, '/var/backups/ngcp');
  t.is(storage.location, 'file:///var/backups/ngcp');
  t.is((backend(openStorage('file:///var/backups/with%20space/')) as FileStorage).root, '/var/backups/with space');
  for (const url of ['file:relative/dir', 'file://otherhost/dir']) {
    const err = t.throws(() => openStorage(url), { instanceOf: ConfigError }, url);
    t.true(err!.message.includes('repository.url'));
  }
});

test('openStorage: s3:// URLs', (t) => {
  const a = backend(openStorage('s3://ngcp-backups/prod/node1', { endpoint: 'http://127.0.0.1:7480' }));
  t.true(a instanceof S3Storage);
  t.is((a as S3Storage).bucket, 'ngcp-backups');
  t.is((a as S3Storage).prefix, 'prod/node1');
  t.is(a.location, 's3://ngcp-backups/prod/node1 at http://127.0.0.1:7480');
  const b = backend(openStorage('s3://ngcp-backups', { region: 'eu-central-1' })) as S3Storage;
  t.is(b.prefix, '');
  t.is(b.location, 's3://ngcp-backups/');
  t.is((backend(openStorage('s3://bkt/p/', { region: 'eu-central-1' })) as S3Storage).prefix, 'p');
});

test('openStorage: bad URLs are ConfigErrors naming repository.url, never echoing secrets', (t) => {
  for (const url of [
    'ftp://host/dir',
    '/var/backups/ngcp',
    's3:///no-bucket',
    's3://UPPER/x',
    's3://ab/x',
    's3://AKIDEXAMPLE:wJalrXUtnFEMIsecret@bucket/prefix',
    's3://bucket/a//b',
    's3://bucket/p?x=1',
  ]) {
    const err = t.throws(() => openStorage(url, { region: 'us-east-1' }), { instanceOf: ConfigError }, url);
    t.true(err!.message.includes('repository.url'), url);
    t.false(err!.message.includes('wJalrXUtnFEMIsecret'), url);
  }
  t.regex(t.throws(() => openStorage('ftp://host/dir'))!.message, /unsupported scheme "ftp:"/);
});

test('openStorage: bad S3 options are ConfigErrors', (t) => {
  t.throws(() => openStorage('s3://bucket/p', { partSize: 1024 }), { instanceOf: ConfigError });
  t.throws(() => openStorage('s3://bucket/p', { queueSize: 0 }), { instanceOf: ConfigError });
  const err = t.throws(() => openStorage('s3://bucket/p', { endpoint: 'http://user:pw@host:7480' }), {
    instanceOf: ConfigError,
  });
  t.false(err!.message.includes('pw'));
});
