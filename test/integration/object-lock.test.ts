import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectRetentionCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import test, { type ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { validateConfig } from '../../src/config/load.js';
import { generateIdentity } from '../../src/crypto/age-keys.js';
import { ConfigError, ExitCode, RepositoryAccessError } from '../../src/errors.js';
import { applyPrune, planPrune } from '../../src/retention/prune.js';
import { loadPolicies } from '../../src/retention/policy.js';
import { manifestKey, snapshotPrefix } from '../../src/format/layout.js';
import { type Manifest } from '../../src/format/manifest.js';
import { S3Storage } from '../../src/repository/s3/s3-storage.js';
import { RGW_ENDPOINT, s3TestClient, s3TestRepository, TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY } from '../helpers/s3.js';
import { runCli, startTestNode, type TestNode } from '../helpers/node.js';
import { NODE, seed, snapshotAt } from '../helpers/snapshots.js';
import { listSnapshots } from '../../src/repository/snapshots.js';

const CREDS = { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY };
const ENV = { AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: TEST_SECRET_KEY, AWS_REGION: TEST_REGION };
const LOCK = { mode: 'GOVERNANCE' as const, days: 1 };

/** A fresh bucket created with Object Lock enabled (hence versioned); GOVERNANCE lets the test clean up. */
async function lockBucket(t: ExecutionContext): Promise<{ bucket: string; client: S3Client }> {
  await (await s3TestRepository()).cleanup(); // asserts the gateway answers
  const client = s3TestClient();
  const bucket = `ngcp-olock-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  t.teardown(async () => {
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    do {
      const page = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
      for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: v.Key, VersionId: v.VersionId, BypassGovernanceRetention: true }));
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker !== undefined);
    await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {});
    client.destroy();
  });
  return { bucket, client };
}

async function versionsUnder(client: S3Client, bucket: string, prefix: string): Promise<{ versions: number; markers: number }> {
  const page = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
  return { versions: page.Versions?.length ?? 0, markers: page.DeleteMarkers?.length ?? 0 };
}

async function retainUntil(client: S3Client, bucket: string, key: string, versionId?: string): Promise<Date | undefined> {
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  return head.ObjectLockRetainUntilDate;
}

test('repository.object_lock is validated and names the key', (t) => {
  const base = { encryption: { recipients: ['age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq'] } };
  const cfg = (repository: Record<string, unknown>) => validateConfig({ ...base, repository }, 'c.yml');
  t.deepEqual(cfg({ url: 's3://bucket/x', object_lock: { mode: 'COMPLIANCE', days: 35 } }).repository.objectLock, { mode: 'COMPLIANCE', days: 35 });
  t.is(cfg({ url: 's3://bucket/x' }).repository.objectLock, undefined);
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ url: 'file:///var/backups', object_lock: LOCK }, /repository\.object_lock is only for s3:\/\/ repositories/],
    [{ url: 's3://bucket/x', object_lock: { mode: 'governance', days: 1 } }, /repository\.object_lock\.mode must be GOVERNANCE or COMPLIANCE/],
    [{ url: 's3://bucket/x', object_lock: { mode: 'GOVERNANCE', days: 0 } }, /repository\.object_lock\.days must be between 1 and 36500/],
    [{ url: 's3://bucket/x', object_lock: { mode: 'GOVERNANCE' } }, /repository\.object_lock\.days must be a whole number/],
    [{ url: 's3://bucket/x', object_lock: { mode: 'GOVERNANCE', days: 1, years: 1 } }, /repository\.object_lock\.years is not a known key/],
    [{ url: 's3://bucket/x', object_lock: 'GOVERNANCE' }, /repository\.object_lock must be a mapping/],
  ];
  for (const [repository, message] of bad) t.throws(() => cfg(repository), { instanceOf: ConfigError, message });
});

test('object_lock on a file:// repository: exit 3', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ngcp-olock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { recipient } = await generateIdentity();
  const config = path.join(dir, 'config.yml');
  await writeFile(config, stringify({ node: { root: dir, name: NODE }, repository: { url: `file://${dir}`, object_lock: LOCK }, encryption: { recipients: [recipient] } }), { mode: 0o600 });
  const r = await runCli(['list', '--config', config]);
  t.is(r.code, ExitCode.config, r.stderr);
  t.regex(r.stderr, /repository\.object_lock is only for s3:\/\/ repositories/);
});

test('Ceph RGW: locked puts, single and multipart, all carry the retention', async (t) => {
  const { bucket, client } = await lockBucket(t);
  const storage = new S3Storage({ bucket, prefix: 'repo', endpoint: RGW_ENDPOINT, credentials: CREDS, partSize: 5 * 1024 * 1024, objectLock: LOCK });
  t.teardown(() => storage.destroy());
  await storage.check();
  const before = Date.now();
  await storage.put('small', randomBytes(1000));
  await storage.put('big', randomBytes(11 * 1024 * 1024)); // three parts: a multipart upload
  for (const key of ['small', 'big']) {
    const until = await retainUntil(client, bucket, `repo/${key}`);
    t.truthy(until, `${key} has no retention`);
    t.true(until!.getTime() >= before + 86_400_000 - 1000 && until!.getTime() <= Date.now() + 86_400_000 + 1000, `${key}: ${until?.toISOString()}`);
    const lock = await storage.objectLock(key);
    t.is(lock?.mode, 'GOVERNANCE');
    t.false(lock?.legalHold);
  }
  // The measured reason ensureLocked exists: what a plain multipart Upload with lock headers gives.
  await new Upload({
    client,
    partSize: 5 * 1024 * 1024,
    params: { Bucket: bucket, Key: 'raw-multipart', Body: randomBytes(6 * 1024 * 1024), ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: new Date(Date.now() + 86_400_000) },
  }).done();
  t.log(`a raw multipart upload with lock headers is stored with retention: ${String(await retainUntil(client, bucket, 'raw-multipart'))}`);
});

// One node for the tests that need MariaDB, started by the first of them (they run concurrently).
let node: Promise<TestNode> | undefined;
test.after.always(async () => (await node)?.stop());

function testNode(): Promise<TestNode> {
  node ??= startTestNode({ cdrRows: 2000 });
  return node;
}

// Both back up the one node: they hold its lock, so they run one after the other.
test.serial('object_lock on a bucket without Object Lock: exit 3, nothing stored', async (t) => {
  const n = await testNode();
  const repo = await s3TestRepository();
  t.teardown(() => repo.cleanup());
  const config = await n.writeConfig({ ...n.baseConfig(), repository: { url: repo.url, endpoint: repo.endpoint, object_lock: LOCK } }, 'olock-nolock.yml');
  const r = await n.cli(['backup'], { config, env: repo.env });
  t.is(r.code, ExitCode.config, r.stderr);
  t.regex(r.stderr, new RegExp(`repository\\.object_lock is set, but bucket ${repo.bucket} .* has no Object Lock configuration`));
  const listed = await repo.client.send(new ListObjectsV2Command({ Bucket: repo.bucket }));
  t.is(listed.KeyCount ?? 0, 0);
});

test.serial('backup with object_lock: every object locked; a plain delete only hides it, a version delete is refused', async (t) => {
  const n = await testNode();
  const { bucket, client } = await lockBucket(t);
  const config = await n.writeConfig({ ...n.baseConfig(), repository: { url: `s3://${bucket}/repo`, endpoint: RGW_ENDPOINT, object_lock: LOCK } }, 'olock.yml');
  const started = Date.now();
  const r = await n.cli(['backup', '--kind', 'pre-upgrade', '--json'], { config, env: ENV });
  t.is(r.code, 0, r.stderr);
  const { id } = JSON.parse(r.stdout) as { id: string };
  const prefix = `repo/${snapshotPrefix(n.sandbox.nodeName, id)}`;
  const manifest = JSON.parse(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}manifest.json` }))).Body!.transformToString()) as Manifest;
  const keys = [...manifest.objects.map((o) => prefix + o.name), `${prefix}manifest.json`];
  t.true(keys.length >= 5, `only ${keys.length} objects`);
  for (const key of keys) {
    const until = await retainUntil(client, bucket, key);
    t.true(until !== undefined && until.getTime() > started + 86_400_000 - 60_000, `${key}: ${until?.toISOString()}`);
  }

  // With the node's own credentials: DeleteObject without a version "succeeds" by adding a delete marker...
  const victim = manifest.objects.find((o) => o.role === 'data')!;
  const key = prefix + victim.name;
  const plain = await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  t.true(plain.DeleteMarker);
  await t.throwsAsync(client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
  // ...but the locked version is still there and reads back byte for byte.
  const versions = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
  t.is(versions.Versions?.length, 1);
  const versionId = versions.Versions![0]!.VersionId!;
  const body = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }))).Body!.transformToByteArray());
  t.is(createHash('sha256').update(body).digest('hex'), victim.sha256);
  // Deleting that version is refused.
  const refused = await t.throwsAsync(client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId })));
  t.is((refused as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 403);
  t.truthy(await retainUntil(client, bucket, key, versionId));
});

test('prune on a lockable (versioned) bucket: exactly the planned snapshots go, every version of them; a locked one is skipped', async (t) => {
  const { bucket, client } = await lockBucket(t);
  const locking = new S3Storage({ bucket, prefix: 'repo', endpoint: RGW_ENDPOINT, credentials: CREDS, objectLock: LOCK });
  const plain = new S3Storage({ bucket, prefix: 'repo', endpoint: RGW_ENDPOINT, credentials: CREDS });
  t.teardown(() => (locking.destroy(), plain.destroy()));
  const now = Date.now();
  const locked = snapshotAt(new Date('2026-01-01T00:00:00Z'), 'manual');
  const old = [snapshotAt(new Date('2026-02-01T00:00:00Z'), 'manual'), snapshotAt(new Date('2026-03-01T00:00:00Z'), 'manual')];
  const lateLock = snapshotAt(new Date('2026-04-01T00:00:00Z'), 'manual');
  const newest = snapshotAt(new Date(now - 3_600_000), 'manual');
  await seed(locking, [locked]);
  await seed(plain, [...old, lateLock, newest]);
  // A second version of one object: prune must free it too.
  await plain.put(old[0]!.keys[0]!, randomBytes(10));

  // The CLI, as an operator runs it.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ngcp-olock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { recipient } = await generateIdentity();
  const config = path.join(dir, 'config.yml');
  await writeFile(config, stringify({ node: { root: dir, name: NODE }, repository: { url: `s3://${bucket}/repo`, endpoint: RGW_ENDPOINT, object_lock: LOCK }, encryption: { recipients: [recipient] } }), { mode: 0o600 });
  const dry = await runCli(['prune', '--dry-run', '--config', config], ENV);
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stdout, new RegExp(`locked\\s+${NODE}\\s+${locked.id}\\s+not kept by the manual policy.*; kept: object lock \\(GOVERNANCE\\) until \\d{4}-`));
  t.regex(dry.stdout, /1 kept, 3 to remove \(dry run: nothing changed\), 1 locked/);
  t.is((await listSnapshots(plain, NODE)).length, 5);

  // Between plan and apply, a lock appears on one object of a planned snapshot: it must be skipped whole.
  const plan = await planPrune(plain, NODE, await loadPolicies(), new Date());
  t.deepEqual(plan.snapshots.map((s) => [s.id, s.action]), [[locked.id, 'locked'], [old[0]!.id, 'remove'], [old[1]!.id, 'remove'], [lateLock.id, 'remove'], [newest.id, 'keep']]);
  await client.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: `repo/${lateLock.keys[1]}`, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: new Date(now + 86_400_000) } }));
  const onlyLate = { ...plan, snapshots: plan.snapshots.filter((s) => s.id === lateLock.id) };
  const late = await applyPrune(plain, onlyLate);
  t.deepEqual(late.removed, []);
  t.deepEqual(late.locked.map((l) => l.id), [lateLock.id]);
  t.regex(late.locked[0]!.reasons.at(-1)!, /^kept: object lock \(GOVERNANCE\) until /);

  const real = await runCli(['prune', '--config', config], ENV);
  t.is(real.code, 0, real.stderr);
  t.regex(real.stdout, new RegExp(`skipped, locked ${NODE}/${locked.id}: kept: object lock \\(GOVERNANCE\\) until \\d{4}-`));
  t.regex(real.stdout, new RegExp(`skipped, locked ${NODE}/${lateLock.id}: kept: object lock`));
  for (const s of old) t.regex(real.stdout, new RegExp(`removed ${NODE}/${s.id} \\(3 objects\\)`));
  for (const s of old) t.deepEqual(await versionsUnder(client, bucket, `repo/${snapshotPrefix(NODE, s.id)}`), { versions: 0, markers: 0 }, `${s.id}: space not freed`);
  for (const s of [locked, lateLock, newest]) t.deepEqual(await versionsUnder(client, bucket, `repo/${snapshotPrefix(NODE, s.id)}`), { versions: 3, markers: 0 });
  t.deepEqual((await listSnapshots(plain, NODE)).map((r) => r.id), [locked.id, lateLock.id, newest.id]);

  // Deleting a locked snapshot directly fails on its manifest, before any other object is touched.
  const direct = await t.throwsAsync(plain.removePrefix(snapshotPrefix(NODE, locked.id), { first: manifestKey(NODE, locked.id) }));
  t.true(direct instanceof RepositoryAccessError, String(direct));
  t.regex(direct!.message, /protected by S3 Object Lock/);
  t.deepEqual(await versionsUnder(client, bucket, `repo/${snapshotPrefix(NODE, locked.id)}`), { versions: 3, markers: 0 });
});
