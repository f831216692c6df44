import test from 'ava';
import { createHash } from 'node:crypto';
import { link, mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { stringify } from 'yaml';
import { CdrRecord, stateFile } from '../../src/cdr/record.js';
import { restoreCdrFiles } from '../../src/cdr/restore.js';
import { shipCdrFiles, type CdrShipOptions } from '../../src/cdr/ship.js';
import { listCdrTree } from '../../src/cdr/tree.js';
import { run as runCdr } from '../../src/cli/cdr.js';
import { generateIdentity, readIdentities } from '../../src/crypto/age.js';
import { openStorage } from '../../src/repository/open-storage.js';
import type { Storage } from '../../src/repository/storage.js';
import { silentReporter } from '../../src/report/reporter.js';
import { sandboxService } from '../../testkit/node.js';
import { CDR_EXPORT_DIR, planCdrExport, renderCdrFile, type PlannedCdrFile } from '../../testkit/cdr-files.js';
import { decryptWithCli, runCli } from '../helpers/node.js';
import { s3TestRepository, TEST_ACCESS_KEY, TEST_REGION, TEST_SECRET_KEY } from '../helpers/s3.js';

interface Fixture {
  dir: string;
  root: string;
  exportDir: string;
  repoDir: string;
  stateDir: string;
  identityFile: string;
  recipient: string;
  files: PlannedCdrFile[];
}

/** A node root with an NGCP CDR export tree (complete, empty, damaged, in-progress files), mtimes at export time. */
async function fixture(cdrRows = 2000): Promise<Fixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ngcp-cdr-test-'));
  const root = path.join(dir, 'root');
  const exportDir = path.join(root, CDR_EXPORT_DIR);
  const { files } = planCdrExport(cdrRows);
  for (const f of files) {
    const full = path.join(exportDir, f.relPath);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, renderCdrFile(f), { mode: 0o644 });
    await utimes(full, f.exportedAt, f.exportedAt);
  }
  const { identity, recipient } = await generateIdentity();
  const identityFile = path.join(dir, 'identity.txt');
  await writeFile(identityFile, identity + '\n', { mode: 0o600 });
  const repoDir = path.join(dir, 'repo');
  await mkdir(repoDir);
  return { dir, root, exportDir, repoDir, stateDir: path.join(dir, 'state'), identityFile, recipient, files };
}

function shipOptions(fx: Fixture, storage: Storage, extra: Partial<CdrShipOptions> = {}): CdrShipOptions {
  return {
    storage,
    recipients: [fx.recipient],
    compression: { level: 3, threads: 1 },
    node: 'spce',
    exportDir: fx.exportDir,
    stateDir: fx.stateDir,
    reporter: silentReporter,
    ...extra,
  };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)));
  }
  return out.sort();
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await runCdr({ args, stdout, stderr, signal: new AbortController().signal });
  return { code, stdout: out, stderr: err };
}

const byKind = (fx: Fixture, ...kinds: string[]) => fx.files.filter((f) => kinds.includes(f.kind)).map((f) => f.relPath).sort();

test('file://: ships every complete file once, damaged aside, in-progress skipped; a second run uploads nothing; restore brings files back', async (t) => {
  const fx = await fixture();
  t.teardown(() => rm(fx.dir, { recursive: true, force: true }));
  const storage = openStorage(`file://${fx.repoDir}`);
  const good = byKind(fx, 'ok', 'empty');
  const damaged = byKind(fx, 'damaged');
  const inProgress = byKind(fx, 'in-progress');
  t.true(good.length > 5 && damaged.length > 0 && inProgress.length > 0, `${good.length} ${damaged.length} ${inProgress.length}`);

  const dry = await shipCdrFiles(shipOptions(fx, storage, { dryRun: true }));
  t.deepEqual(dry.shipped.sort(), good);
  t.deepEqual(dry.damaged.sort(), damaged);
  t.deepEqual(await walk(fx.repoDir), [], 'a dry run stores nothing');

  const first = await shipCdrFiles(shipOptions(fx, storage));
  t.deepEqual(first.shipped.sort(), good);
  t.deepEqual(first.damaged.sort(), damaged);
  t.deepEqual(first.inProgress.sort(), inProgress);
  const stored = await walk(fx.repoDir);
  const cdrObjects = stored.filter((k) => !k.includes('/.shipped/'));
  t.deepEqual(cdrObjects, [...good.map((p) => `cdr/spce/${p}.zst.age`), ...damaged.map((p) => `cdr/spce/damaged/${p}.zst.age`)].sort());
  t.false(stored.some((k) => /\.\d+\.zst\.age$/.test(k)), 'no in-progress file shipped');
  for (const p of [...good, ...damaged, ...inProgress]) await stat(path.join(fx.exportDir, p)); // nothing removed

  // The standard tools read a shipped object back to the original bytes.
  const sample = good.find((p) => fx.files.find((f) => f.relPath === p)!.rows > 0)!;
  const plain = await decryptWithCli(path.join(fx.repoDir, `cdr/spce/${sample}.zst.age`), fx.identityFile, true);
  t.true(plain.equals(await readFile(path.join(fx.exportDir, sample))));
  const damagedPlain = await decryptWithCli(path.join(fx.repoDir, `cdr/spce/damaged/${damaged[0]}.zst.age`), fx.identityFile, true);
  t.true(damagedPlain.equals(await readFile(path.join(fx.exportDir, damaged[0]!))));

  const second = await shipCdrFiles(shipOptions(fx, storage));
  t.deepEqual(second.shipped, []);
  t.deepEqual(second.damaged, []);
  t.deepEqual(second.damagedKnown.sort(), damaged, 'damaged files shipped earlier are still reported');
  t.is(second.alreadyShipped, good.length + damaged.length);
  t.deepEqual(await walk(fx.repoDir), stored, 'the second run stores nothing, not even an index');

  // The exporter finishes the in-progress file: the next run ships exactly it.
  const finished = inProgress[0]!.replace(/\.\d+$/, '');
  const planned = fx.files.find((f) => f.relPath === inProgress[0])!;
  await unlink(path.join(fx.exportDir, inProgress[0]!));
  await writeFile(path.join(fx.exportDir, finished), renderCdrFile({ ...planned, kind: 'ok', relPath: finished }));
  const third = await shipCdrFiles(shipOptions(fx, storage));
  t.deepEqual(third.shipped, [finished]);

  // Without the local state the record is rebuilt from the repository: still nothing to upload.
  await rm(stateFile(fx.stateDir, 'spce'));
  const before = await walk(fx.repoDir);
  const fourth = await shipCdrFiles(shipOptions(fx, storage));
  t.deepEqual(fourth.shipped, []);
  t.deepEqual(await walk(fx.repoDir), before);

  // Restore: delete one day of files, bring them back through the CLI.
  const config = path.join(fx.dir, 'config.yml');
  await writeFile(config, stringify({ node: { root: fx.root }, repository: { url: `file://${fx.repoDir}` }, encryption: { recipients: [fx.recipient] }, cdr: { enabled: true, path: CDR_EXPORT_DIR }, service: sandboxService(fx.root) }), { mode: 0o600 });
  const day = good.find((p) => p.startsWith('system/'))!.split('/').slice(0, 3).join('/'); // system/YYYYMM/DD
  const gone = good.filter((p) => p.startsWith(day + '/'));
  const other = good.find((p) => !p.startsWith(day + '/') && p.startsWith('system/'))!;
  const originals = new Map<string, Buffer>();
  for (const p of [...gone, other]) {
    originals.set(p, await readFile(path.join(fx.exportDir, p)));
    await unlink(path.join(fx.exportDir, p));
  }
  const m = /^system\/(\d{4})(\d{2})\/(\d{2})$/.exec(day)!;
  const date = `${m[1]}-${m[2]}-${m[3]}`;
  const res = await cli(['restore', '--from', date, '--to', date, '--identity', fx.identityFile, '--config', config, '--state-dir', fx.stateDir, '--json']);
  t.is(res.code, 0, res.stderr);
  const result = JSON.parse(res.stdout) as { restored: string[]; present: number };
  t.deepEqual(result.restored.filter((p) => p.startsWith('system/')).sort(), gone);
  for (const p of gone) {
    const full = path.join(fx.exportDir, p);
    t.true((await readFile(full)).equals(originals.get(p)!), p);
    const st = await stat(full);
    t.is(st.mode & 0o777, 0o644, `${p} mode`);
    t.is(Math.trunc(st.mtimeMs), fx.files.find((f) => f.relPath === p)!.exportedAt.getTime(), `${p} mtime`);
  }
  await t.throwsAsync(stat(path.join(fx.exportDir, other)), undefined, 'a file outside --from/--to stays gone');
  t.false(await walk(fx.exportDir).then((l) => l.some((p) => p.includes('ngcp-backup-restore'))));

  const all = await cli(['restore', '--identity', fx.identityFile, '--config', config, '--state-dir', fx.stateDir]);
  t.is(all.code, 0, all.stderr);
  t.true((await readFile(path.join(fx.exportDir, other))).equals(originals.get(other)!));
  t.regex(all.stdout, /restored 1 /);

  // Restored files keep size and mtime: the next ship sees them as shipped.
  const ship = await cli(['ship', '--config', config, '--state-dir', fx.stateDir]);
  t.is(ship.code, 0, ship.stderr);
  t.regex(ship.stdout, /shipped 0 /);
  t.regex(ship.stdout, /damaged files shipped aside earlier/);
});

test('policy: local copies are removed only after verification in the repository; damaged and in-progress files stay', async (t) => {
  const fx = await fixture();
  t.teardown(() => rm(fx.dir, { recursive: true, force: true }));
  const storage = openStorage(`file://${fx.repoDir}`);
  const good = byKind(fx, 'ok', 'empty');
  const damaged = byKind(fx, 'damaged');
  const inProgress = byKind(fx, 'in-progress');
  await shipCdrFiles(shipOptions(fx, storage));

  // Damage one stored object: its local copy must stay.
  const tampered = good[3]!;
  const key = path.join(fx.repoDir, `cdr/spce/${tampered}.zst.age`);
  const bytes = await readFile(key);
  bytes[bytes.length - 5] ^= 0xff;
  await writeFile(key, bytes);
  // A new file the record does not know (exported after the ship) is not removed either.
  const planned = fx.files.find((f) => f.kind === 'ok')!;
  const unshipped = planned.relPath.replace(/\.cdr$/, '9.cdr');
  await writeFile(path.join(fx.exportDir, unshipped), renderCdrFile(planned));
  await utimes(path.join(fx.exportDir, unshipped), planned.exportedAt, planned.exportedAt);

  const dry = await shipCdrFiles(shipOptions(fx, storage, { dryRun: true, policy: { removeLocalAfterDays: 30 } }));
  t.is(dry.policy?.removedLocal.length, good.length - 1);
  t.is((await walk(fx.exportDir)).length, fx.files.length + 1, 'dry run removes nothing');

  const run = await shipCdrFiles(shipOptions(fx, storage, { policy: { removeLocalAfterDays: 30 } }));
  t.deepEqual(run.shipped, [unshipped], 'the new file is shipped first');
  t.deepEqual(run.policy?.keptUnverified, [tampered]);
  const left = await walk(fx.exportDir);
  // The new file was shipped and then verified in the same run, so it went too.
  t.deepEqual(left, [...damaged, ...inProgress, tampered].sort(), 'only good files verified in the repository were removed');
  const record = await CdrRecord.load(storage, 'spce', fx.stateDir);
  t.truthy(record.entries.get(good[0]!)?.verifiedAt);
  t.truthy(record.entries.get(good[0]!)?.removedAt);
  t.is(record.entries.get(tampered)?.removedAt, undefined);

  // Files removed by the policy come back with cdr restore.
  const res = await restoreCdrFiles({ storage, node: 'spce', exportDir: fx.exportDir, stateDir: fx.stateDir, identities: await readIdentities(fx.identityFile), reporter: silentReporter, from: '2000-01-01' });
  t.is(res.restored.length, good.length, 'every removed file restored (the new one too)');
  t.is(res.present, 1);

  // Retention: everything is years old by 2030: stored objects are pruned, restore finds nothing left.
  const prune = await shipCdrFiles(shipOptions(fx, storage, { policy: { retentionYears: 5 }, now: () => new Date('2030-01-01T00:00:00Z') }));
  t.is(prune.policy?.pruned.length, good.length + damaged.length + 1);
  t.deepEqual((await walk(fx.repoDir)).filter((k) => !k.includes('/.shipped/')), []);
  const after = await restoreCdrFiles({ storage, node: 'spce', exportDir: fx.exportDir, stateDir: fx.stateDir, identities: [], reporter: silentReporter, dryRun: true });
  t.is(after.selected, 0);
});

test('a run with nothing new over 100,000 files uploads nothing', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ngcp-cdr-big-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const exportDir = path.join(dir, 'cdrexport');
  const repoDir = path.join(dir, 'repo');
  await mkdir(repoDir);
  const N = 100_000;
  const body = Buffer.from('007,0000\n' + 'a4b9d2c3a7f4e2a3b1c9d8e7f6a5b4c3\n');
  // Hard links (one inode per directory): 100,000 directory entries, what the walk and the stats see, without 100,000 writes.
  for (let d = 0; d < 100; d++) {
    const sub = path.join(exportDir, 'system', '202406', String(d).padStart(3, '0'));
    await mkdir(sub, { recursive: true });
    const seed = path.join(dir, `seed-${d}.cdr`);
    await writeFile(seed, body);
    await Promise.all(Array.from({ length: N / 100 }, (_, i) => link(seed, path.join(sub, `sipwise_007_20240601000000_${String(d * 1000 + i).padStart(10, '0')}.cdr`))));
  }
  const storage = openStorage(`file://${repoDir}`);
  // The record as a first run would have left it (shipping 100,000 files takes too long for a test).
  const tree = await listCdrTree(exportDir);
  t.is(tree.length, N);
  const record = new CdrRecord('spce', storage, stateFile(path.join(dir, 'state'), 'spce'));
  record.merge(tree.map((f) => ({ ...f, md5Ok: true, key: `cdr/spce/${f.path}.zst.age`, storedSize: 1, sha256: '0', shippedAt: new Date().toISOString() })));
  await record.saveLocal();
  const { recipient } = await generateIdentity();
  const t0 = performance.now();
  const result = await shipCdrFiles({ storage, recipients: [recipient], compression: { level: 3, threads: 1 }, node: 'spce', exportDir, stateDir: path.join(dir, 'state'), reporter: silentReporter });
  const seconds = (performance.now() - t0) / 1000;
  t.is(result.alreadyShipped, N);
  t.deepEqual(result.shipped, []);
  t.deepEqual(await walk(repoDir), []);
  // Its time is logged, not asserted: a test must not fail on a busy machine.
  t.log(`no-op run over ${N} files: ${seconds.toFixed(2)} s`);
});

test('S3 (Ceph RGW): ships once, second run uploads nothing, restore brings a file back', async (t) => {
  const repo = await s3TestRepository();
  const fx = await fixture(600);
  t.teardown(async () => {
    await repo.cleanup();
    await rm(fx.dir, { recursive: true, force: true });
  });
  const storage = openStorage(repo.url, { endpoint: repo.endpoint, region: TEST_REGION, pathStyle: true, credentials: { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY } });
  const good = byKind(fx, 'ok', 'empty');
  const first = await shipCdrFiles(shipOptions(fx, storage));
  t.deepEqual(first.shipped.sort(), good);
  t.deepEqual(first.damaged.sort(), byKind(fx, 'damaged'));
  const keys = async () => {
    const out: string[] = [];
    for await (const o of storage.list('cdr/spce/')) out.push(o.key);
    return out.sort();
  };
  const stored = await keys();
  t.true(stored.includes(`cdr/spce/${good[0]}.zst.age`));
  t.true(stored.includes(`cdr/spce/damaged/${byKind(fx, 'damaged')[0]}.zst.age`));
  const second = await shipCdrFiles(shipOptions(fx, storage));
  t.deepEqual(second.shipped, []);
  t.deepEqual(await keys(), stored);

  const original = await readFile(path.join(fx.exportDir, good[1]!));
  await unlink(path.join(fx.exportDir, good[1]!));
  await rm(fx.stateDir, { recursive: true }); // restore on a machine without the local record
  const res = await restoreCdrFiles({ storage, node: 'spce', exportDir: fx.exportDir, stateDir: fx.stateDir, identities: await readIdentities(fx.identityFile), reporter: silentReporter });
  t.deepEqual(res.restored, [good[1]]);
  t.true((await readFile(path.join(fx.exportDir, good[1]!))).equals(original));
  t.is((await stat(path.join(fx.exportDir, good[1]!))).mode & 0o777, 0o644);
});

test('cdr ship refuses when cdr.enabled is false; bad dates are usage errors', async (t) => {
  const fx = await fixture(600);
  t.teardown(() => rm(fx.dir, { recursive: true, force: true }));
  const config = path.join(fx.dir, 'config.yml');
  await writeFile(config, stringify({ node: { root: fx.root }, repository: { url: `file://${fx.repoDir}` }, encryption: { recipients: [fx.recipient] }, service: sandboxService(fx.root) }), { mode: 0o600 });
  const refused = await t.throwsAsync(cli(['ship', '--config', config, '--state-dir', fx.stateDir]));
  t.is(refused?.name, 'RefusedError');
  t.deepEqual(await walk(fx.repoDir), []);
  const usage = await t.throwsAsync(cli(['restore', '--identity', fx.identityFile, '--from', '2024-13-01', '--config', config]));
  t.is(usage?.name, 'UsageError');
});

test('the repository is the truth: emptied under the same URL, everything is shipped again; a touched file is no gap, a changed one fails the run (exit 9) until --accept-changed', async (t) => {
  const fx = await fixture(600);
  t.teardown(() => rm(fx.dir, { recursive: true, force: true }));
  const storage = openStorage(`file://${fx.repoDir}`);
  const good = byKind(fx, 'ok', 'empty');
  const first = await shipCdrFiles(shipOptions(fx, storage));
  t.deepEqual(first.shipped.sort(), good);

  // The directory is wiped and made again (a bucket recreated): the host's record must not be believed.
  await rm(fx.repoDir, { recursive: true });
  await mkdir(fx.repoDir);
  const warnings: string[] = [];
  const refill = await shipCdrFiles(shipOptions(fx, storage, { reporter: { event: (level, message) => void (level === 'warn' && warnings.push(message)) } }));
  t.deepEqual(refill.shipped.sort(), good, 'every file shipped again');
  t.true(warnings.some((w) => /no longer holds .*rebuilt from the repository/.test(w)), warnings.join('\n'));
  t.deepEqual(refill.changed, []);

  // Only the mtime changes: the same content is in the repository; the record learns the new mtime.
  const touched = good.find((p) => fx.files.find((f) => f.relPath === p)!.rows > 0)!;
  const later = new Date('2031-01-01T00:00:00Z');
  await utimes(path.join(fx.exportDir, touched), later, later);
  const again = await shipCdrFiles(shipOptions(fx, storage));
  t.deepEqual(again.changed, []);
  t.deepEqual(again.shipped, []);
  t.is((await CdrRecord.load(storage, 'spce', fx.stateDir)).entries.get(touched)?.mtimeMs, later.getTime());

  // Other content: a gap, said and failed (exit 9), never shipped over the old object, never removed.
  // A different, still well-formed file (its MD5 trailer recomputed).
  const lines = (await readFile(path.join(fx.exportDir, touched), 'latin1')).split('\n');
  const rows = lines.slice(0, -2);
  rows[1] = rows[1]!.replace(/[0-9]/, (d) => String((Number(d) + 1) % 10));
  const body = rows.join('\n') + '\n';
  await writeFile(path.join(fx.exportDir, touched), body + createHash('md5').update(body, 'latin1').digest('hex') + '\n', 'latin1');
  const config = path.join(fx.dir, 'config.yml');
  await writeFile(config, stringify({ node: { root: fx.root }, repository: { url: `file://${fx.repoDir}` }, encryption: { recipients: [fx.recipient] }, cdr: { enabled: true, path: CDR_EXPORT_DIR }, service: sandboxService(fx.root) }), { mode: 0o600 });
  const before = await walk(fx.repoDir);
  const gap = await runCli(['cdr', 'ship', '--config', config, '--state-dir', fx.stateDir]);
  t.is(gap.code, 9, gap.stderr);
  t.regex(gap.stderr, new RegExp(`1 CDR export file\\(s\\) changed after they were shipped.*${touched.replace(/[.]/g, '\\.')}`));
  t.regex(gap.stdout, /changed after shipping, not shipped again/);
  t.deepEqual((await walk(fx.repoDir)).filter((k) => !k.includes('/.shipped/')), before.filter((k) => !k.includes('/.shipped/')));
  const accepted = await runCli(['cdr', 'ship', '--accept-changed', '--config', config, '--state-dir', fx.stateDir]);
  t.is(accepted.code, 0, accepted.stderr);
  const objects = (await walk(fx.repoDir)).filter((k) => k.startsWith(`cdr/spce/${touched}`));
  t.is(objects.length, 2, 'the earlier object stays beside the new one');
  t.is((await runCli(['cdr', 'ship', '--config', config, '--state-dir', fx.stateDir])).code, 0, 'the record now holds the new content');
});
