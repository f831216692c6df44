import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectVersionsCommand,
  PutObjectRetentionCommand,
} from '@aws-sdk/client-s3';
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { run } from '../../src/cli/prune.js';
import { generateIdentity } from '../../src/crypto/age-keys.js';
import { applyPrune, planPrune } from '../../src/retention/prune.js';
import { loadPolicies, planRetention } from '../../src/retention/policy.js';
import { FileStorage } from '../../src/repository/file-storage.js';
import { manifestKey, snapshotPrefix } from '../../src/format/layout.js';
import { S3Storage } from '../../src/repository/s3/s3-storage.js';
import type { Storage } from '../../src/repository/storage.js';
import { RGW_ENDPOINT, s3TestClient, s3TestRepository, TEST_ACCESS_KEY, TEST_SECRET_KEY } from '../helpers/s3.js';
import { NODE, seed, snapshotAt, yearOfSnapshots } from '../helpers/snapshots.js';
import { listSnapshots } from '../../src/repository/snapshots.js';

const NOW = new Date('2026-11-21T12:00:00Z');

async function keysOf(storage: Storage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of storage.list(prefix)) keys.push(o.key);
  return keys.sort();
}

/** The acceptance check: exactly the planned snapshots are gone, every object of the others is intact. */
async function pruneAndCheck(t: import('ava').ExecutionContext, storage: Storage): Promise<void> {
  const snaps = yearOfSnapshots(NOW);
  // A drill passed on an old nightly the policy would remove: it must survive as the newest verified.
  const policies = await loadPolicies();
  const unverified = planRetention(snaps, policies, NOW);
  const verifiedOld = snaps.find((s) => s.id === unverified.filter((e) => e.action === 'remove' && e.id.includes('-nightly-')).at(-1)!.id)!;
  await seed(storage, snaps, new Set([verifiedOld.id]));

  const expected = planRetention(snaps.map((s) => ({ ...s, verified: s === verifiedOld })), policies, NOW);
  const plan = await planPrune(storage, NODE, policies, NOW);
  t.deepEqual(plan.snapshots.map((s) => ({ id: s.id, action: s.action, reasons: s.reasons })), expected);
  t.deepEqual(plan.snapshots.find((s) => s.id === verifiedOld.id)?.reasons, ['newest verified snapshot']);
  const toRemove = new Set(expected.filter((e) => e.action === 'remove').map((e) => e.id));
  t.true(toRemove.size > 50, `only ${toRemove.size} to remove`);

  const result = await applyPrune(storage, plan);
  t.deepEqual(result.failed, []);
  t.deepEqual(result.removed.map((r) => r.id).sort(), [...toRemove].sort());
  for (const s of snaps) {
    const left = await keysOf(storage, snapshotPrefix(NODE, s.id));
    if (toRemove.has(s.id)) t.deepEqual(left, [], `${s.id} should be gone`);
    else t.deepEqual(left, [...s.keys].sort(), `${s.id} should be intact`);
  }
  t.deepEqual((await listSnapshots(storage, NODE)).map((r) => r.id), expected.filter((e) => e.action === 'keep').map((e) => e.id));
  // A second run finds nothing more to remove.
  const again = await planPrune(storage, NODE, policies, NOW);
  t.false(again.snapshots.some((s) => s.action === 'remove'));
}

async function tempDir(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ngcp-prune-'));
  await mkdir(join(dir, 'repo'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('prune on a file:// repository removes exactly the planned snapshots', async (t) => {
  await pruneAndCheck(t, new FileStorage(join(await tempDir(t), 'repo')));
});

test('prune on Ceph RGW removes exactly the planned snapshots', async (t) => {
  const repo = await s3TestRepository();
  const storage = new S3Storage({ bucket: repo.bucket, prefix: repo.prefix, endpoint: repo.endpoint, credentials: { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY } });
  try {
    await pruneAndCheck(t, storage);
  } finally {
    storage.destroy();
    await repo.cleanup();
  }
});

test('the newest snapshot survives even when no policy keeps it', async (t) => {
  const storage = new FileStorage(join(await tempDir(t), 'repo'));
  const snaps = [snapshotAt(new Date('2026-01-01T00:00:00Z'), 'manual'), snapshotAt(new Date('2026-02-01T00:00:00Z'), 'manual')];
  await seed(storage, snaps);
  const plan = await planPrune(storage, NODE, await loadPolicies(), NOW);
  t.deepEqual(plan.snapshots.map((s) => s.action), ['remove', 'keep']);
  t.deepEqual(plan.snapshots[1]!.reasons, ['newest snapshot']);
});

test('a crash half-way leaves no manifest pointing at missing objects', async (t) => {
  const files = new FileStorage(join(await tempDir(t), 'repo'));
  const snaps = [snapshotAt(new Date('2026-01-01T00:00:00Z'), 'manual'), snapshotAt(new Date('2026-11-20T00:00:00Z'), 'manual')];
  await seed(files, snaps);
  const removed: string[] = [];
  // Fails on the first non-manifest removal, as a crash or a network loss would.
  const flaky: Storage = Object.assign(Object.create(files) as Storage, {
    async remove(key: string) {
      if (!key.endsWith('manifest.json')) throw new Error('connection lost');
      removed.push(key);
      await files.remove(key);
    },
  });
  const plan = await planPrune(files, NODE, await loadPolicies(), NOW);
  const result = await applyPrune(flaky, plan);
  t.deepEqual(removed, [manifestKey(NODE, snaps[0]!.id)]);
  t.is(result.failed.length, 1);
  t.deepEqual((await listSnapshots(files, NODE)).map((r) => r.id), [snaps[1]!.id]);
  // The leftovers are an incomplete snapshot; the next prune cannot see it, backup's cleanup can.
  t.is((await keysOf(files, snapshotPrefix(NODE, snaps[0]!.id))).length, 2);
});

test('ngcp-backup prune: --dry-run changes nothing, then prune removes, --json', async (t) => {
  const dir = await tempDir(t);
  const storage = new FileStorage(join(dir, 'repo'));
  const snaps = [snapshotAt(new Date('2020-01-01T00:00:00Z'), 'manual'), snapshotAt(new Date(Date.now() - 3_600_000), 'manual')];
  await seed(storage, snaps);
  const { recipient } = await generateIdentity();
  const config = join(dir, 'config.yml');
  await writeFile(config, `node:\n  root: ${dir}\n  name: ${NODE}\nrepository:\n  url: file://${join(dir, 'repo')}\nencryption:\n  recipients: [${recipient}]\nservice:\n  state_dir: ${join(dir, 'state')}\n  lock_dir: ${join(dir, 'lock')}\n  log_file: ${join(dir, 'backup.log')}\n`, { mode: 0o600 });
  const cli = async (args: string[]) => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    stdout.on('data', (d) => (out += d));
    const code = await run({ args: [...args, '--config', config], stdout, stderr, signal: new AbortController().signal });
    return { code, out };
  };
  const dry = await cli(['--dry-run']);
  t.is(dry.code, 0);
  t.regex(dry.out, /would remove\s+spce\s+20200101T000000Z-manual-\w{4}\s+not kept by the manual policy/);
  t.regex(dry.out, /1 kept, 1 to remove \(dry run: nothing changed\), 0 locked/);
  t.is((await listSnapshots(storage, NODE)).length, 2);

  const real = await cli(['--json']);
  t.is(real.code, 0);
  const report = JSON.parse(real.out) as { dryRun: boolean; result: { removed: Array<{ id: string }> } };
  t.false(report.dryRun);
  t.deepEqual(report.result.removed.map((r) => r.id), [snaps[0]!.id]);
  t.deepEqual((await listSnapshots(storage, NODE)).map((r) => r.id), [snaps[1]!.id]);

  await t.throwsAsync(cli(['--policies', join(dir, 'nope.yml')]), { message: /cannot read retention policies/ });
  await t.throwsAsync(cli(['--bogus']), { message: /--bogus/ });
});

test('Object Lock on Ceph RGW: prune skips a locked snapshot and says so', async (t) => {
  const client = s3TestClient();
  const bucket = `ngcp-lock-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  const storage = new S3Storage({ bucket, prefix: 'repo', endpoint: RGW_ENDPOINT, credentials: { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY } });
  try {
    const snaps = [
      snapshotAt(new Date('2026-01-01T00:00:00Z'), 'manual'),
      snapshotAt(new Date('2026-02-01T00:00:00Z'), 'manual'),
      snapshotAt(new Date('2026-11-20T00:00:00Z'), 'manual'),
    ];
    await seed(storage, snaps);
    const locked = snaps[0]!;
    const until = new Date(Date.now() + 86_400_000);
    for (const key of locked.keys) {
      await client.send(new PutObjectRetentionCommand({ Bucket: bucket, Key: `repo/${key}`, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: until } }));
    }
    const plan = await planPrune(storage, NODE, await loadPolicies(), new Date());
    t.deepEqual(plan.snapshots.map((s) => s.action), ['locked', 'remove', 'keep']);
    t.regex(plan.snapshots[0]!.reasons.at(-1)!, /^kept: object lock \(GOVERNANCE\) until /);
    const result = await applyPrune(storage, plan);
    t.deepEqual(result.removed.map((r) => r.id), [snaps[1]!.id]);
    t.deepEqual(result.locked.map((r) => r.id), [locked.id]);
    t.deepEqual(await keysOf(storage, snapshotPrefix(NODE, locked.id)), [...locked.keys].sort());
    t.deepEqual((await listSnapshots(storage, NODE)).map((r) => r.id), [locked.id, snaps[2]!.id]);
    // The node's own credentials cannot destroy the locked data early either.
    const versions = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: `repo/${manifestKey(NODE, locked.id)}` }));
    const v = versions.Versions?.[0];
    await t.throwsAsync(client.send(new DeleteObjectCommand({ Bucket: bucket, Key: v!.Key, VersionId: v!.VersionId })));
  } finally {
    storage.destroy();
    // GOVERNANCE can be bypassed, so the test can clean up after itself.
    const all = await client.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    for (const v of [...(all.Versions ?? []), ...(all.DeleteMarkers ?? [])]) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: v.Key, VersionId: v.VersionId, BypassGovernanceRetention: true }));
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {});
    client.destroy();
  }
});
