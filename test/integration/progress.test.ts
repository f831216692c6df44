import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatDuration, formatProgress, progressBar, terminalProgress, type ProgressStream } from '../../src/report/progress.js';
import { FileStorage } from '../../src/repository/file-storage.js';
import { snapshotPrefix } from '../../src/format/layout.js';
import type { Manifest } from '../../src/format/manifest.js';
import { verifySnapshot } from '../../src/repository/verify.js';
import { stringify } from 'yaml';
import { generateIdentity } from '../../src/crypto/age-keys.js';
import { CLI, runCli, runCommand, startTestNode } from '../helpers/node.js';
import { NODE, seed, snapshotAt } from '../helpers/snapshots.js';

const MiB = 1024 * 1024;

/** A stand-in for process.stderr that records what is written. */
function fakeStream(isTTY: boolean, columns?: number): ProgressStream & { writes: string[] } {
  const writes: string[] = [];
  return { isTTY, columns, writes, write: (s: string) => (writes.push(s), true) };
}

function fakeClock(): { now: () => number; at(ms: number): void } {
  let t = 1000;
  return { now: () => t, at: (ms) => (t = 1000 + ms) };
}

test('the line: bar, done / total, percent, rate, ETA', (t) => {
  t.is(
    formatProgress({ label: 'backup' }, 35 * MiB, 100 * MiB, 5),
    'backup  [#######.............]  35.0 MiB / 100.0 MiB  35%  7.0 MiB/s  ETA 0:10',
  );
  t.is(formatProgress({ label: 'verify' }, 0, 2 * 1024 * MiB, 0), 'verify  [....................]  0 B / 2.0 GiB  0%  0 B/s');
  t.is(formatProgress({ label: 'cdr ship', unit: 'count' }, 30, 120, 10), 'cdr ship  [#####...............]  30 / 120  25%  3.0/s  ETA 0:30');
  // An estimate that the work outgrows: no percentage, no ETA, only what is known.
  t.is(formatProgress({ label: 'backup' }, 150 * MiB, 100 * MiB, 10), 'backup  150.0 MiB  15.0 MiB/s');
  t.is(formatProgress({ label: 'backup' }, 3 * MiB, undefined, 2), 'backup  3.0 MiB  1.5 MiB/s');
  t.is(formatDuration(3 * 3600 + 61), '3:01:01');
  t.is(formatDuration(59.2), '1:00');
});

test('redrawn in place at most every 250 ms; end() clears the line', (t) => {
  const out = fakeStream(true);
  const clock = fakeClock();
  const bar = progressBar(out, { label: 'download', now: clock.now });
  for (const [ms, done] of [[0, 1], [100, 2], [200, 3], [260, 4], [300, 5], [509, 6], [510, 7], [10_000, 8]] as const) {
    clock.at(ms);
    bar.update(done * MiB, 8 * MiB);
  }
  t.is(out.writes.length, 4);
  t.true(out.writes.every((w) => w.startsWith('\r\x1b[K') && !w.includes('\n')));
  t.deepEqual(out.writes.map((w) => /(\d+\.\d) MiB \//.exec(w)?.[1]), ['1.0', '4.0', '7.0', '8.0']);
  bar.end();
  t.is(out.writes.at(-1), '\r\x1b[K');
  bar.update(9 * MiB, 9 * MiB);
  t.is(out.writes.length, 5, 'nothing after end()');
});

test('clear() makes room for a log line; the next update draws again at once', (t) => {
  const out = fakeStream(true);
  const clock = fakeClock();
  const bar = progressBar(out, { label: 'download', now: clock.now });
  bar.update(1, 10);
  bar.clear();
  t.deepEqual(out.writes.slice(1), ['\r\x1b[K']);
  clock.at(10);
  bar.update(2, 10);
  t.is(out.writes.length, 3);
  bar.clear();
  bar.clear();
  t.is(out.writes.length, 4, 'a cleared line is not cleared twice');
});

test('never wider than the terminal', (t) => {
  const out = fakeStream(true, 30);
  progressBar(out, { label: 'backup', now: () => 0 }).update(5 * MiB, 10 * MiB);
  t.is(out.writes[0]!.length, '\r\x1b[K'.length + 29);
});

test('silent when stderr is not a terminal, with --quiet, with --json', (t) => {
  for (const [out, flags] of [
    [fakeStream(false), {}],
    [fakeStream(true), { quiet: true }],
    [fakeStream(true), { json: true }],
  ] as const) {
    const bar = terminalProgress(out, flags, { label: 'backup' });
    bar.update(1, 2);
    bar.clear();
    bar.end();
    t.deepEqual(out.writes, []);
  }
  const tty = fakeStream(true);
  terminalProgress(tty, {}, { label: 'backup' }).update(1, 2);
  t.is(tty.writes.length, 1);
});

test('verify reports bytes read against the manifest sizes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ngcp-progress-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const storage = new FileStorage(dir);
  const id = '20261121T023000Z-manual-abcd';
  const bodies = [randomBytes(3 * MiB), randomBytes(1000)];
  const objects = bodies.map((b, i) => ({ name: `db/x/t${i}.sql.zst.age`, role: 'data', size: b.length, sha256: createHash('sha256').update(b).digest('hex'), rawSize: 1 }));
  for (const [i, b] of bodies.entries()) await storage.put(snapshotPrefix('spce', id) + objects[i]!.name, b);
  const seen: Array<[number, number | undefined]> = [];
  const manifest = { id, node: 'spce', objects } as unknown as Manifest;
  const result = await verifySnapshot(storage, manifest, { progress: { update: (d, total) => seen.push([d, total]), end() {} } });
  t.deepEqual(result.problems, []);
  const total = bodies[0]!.length + bodies[1]!.length;
  t.true(seen.length >= 2);
  t.deepEqual(seen.at(-1), [total, total]);
  t.true(seen.every(([d], i) => i === 0 || d >= seen[i - 1]![0]));
});

test('ngcp-backup verify draws the line on a terminal (script(1) gives it a pty), never into a pipe', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ngcp-progress-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const repo = join(dir, 'repo');
  await mkdir(repo);
  const snap = snapshotAt(new Date('2026-11-20T00:00:00Z'), 'manual');
  await seed(new FileStorage(repo), [snap]);
  const { recipient } = await generateIdentity();
  const config = join(dir, 'config.yml');
  await writeFile(config, stringify({ node: { root: dir, name: NODE }, repository: { url: `file://${repo}` }, encryption: { recipients: [recipient] } }), { mode: 0o600 });

  const piped = await runCli(['verify', snap.id, '--config', config]);
  t.is(piped.code, 0, piped.stderr);
  t.false(piped.stderr.includes('\x1b[K') || piped.stdout.includes('\x1b[K'));

  const command = [process.execPath, CLI, 'verify', snap.id, '--config', config].map((a) => `'${a}'`).join(' ');
  const onTty = await runCommand('script', ['-qec', command, '/dev/null'], process.env);
  t.is(onTty.code, 0, onTty.stdout);
  t.regex(onTty.stdout, /\r\x1b\[Kverify {2}\[#+\.*\] {2}\d+ B \/ \d+ B {2}\d+%/);
  t.regex(onTty.stdout, /snapshot \S+: 2 objects, 96 B verified/);

  const quiet = await runCommand('script', ['-qec', `${command} --quiet`, '/dev/null'], process.env);
  t.is(quiet.code, 0, quiet.stdout);
  t.false(quiet.stdout.includes('\x1b[K'));
});

test('ngcp-backup backup on a terminal: plaintext bytes against the information_schema estimate', async (t) => {
  const node = await startTestNode({ cdrRows: 2000 });
  t.teardown(() => node.stop());
  const config = await node.writeConfig(node.baseConfig());
  const command = [process.execPath, CLI, 'backup', '--config', config].map((a) => `'${a}'`).join(' ');
  const r = await runCommand('script', ['-qec', command, '/dev/null'], process.env);
  t.is(r.code, 0, r.stdout);
  t.regex(r.stdout, /\r\x1b\[Kbackup {2}\[[#.]{20}\] {2}[\d.]+ (B|KiB|MiB) \/ [\d.]+ (KiB|MiB) {2}\d+%/);
  t.regex(r.stdout, /\r\x1b\[Ksnapshot \S+ \(manual\) of node/);
});
