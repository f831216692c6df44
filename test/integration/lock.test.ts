import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import test from 'ava';
import { spawn } from 'node:child_process';
import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExitCode } from '../../src/errors.js';
import { connect } from '../../src/mysql/connection.js';
import { sandboxService } from '../../testkit/node.js';
import { CLI, runCli, startTestNode, type TestNode } from '../helpers/node.js';
import { s3TestRepository } from '../helpers/s3.js';

// One lock per host: a second writer exits 11 naming the holder, or waits with --wait; a lock
// left by a killed run is taken over, and what that run left in the repository is cleaned up.
let node: TestNode;
test.before(async () => {
  node = await startTestNode({ cdrRows: 150_000 });
});
test.after.always(async () => node?.stop());

const lockFile = () => path.join(sandboxService(node.root).lock_dir, 'ngcp-backup.lock');
const exists = (f: string) => access(f).then(() => true, () => false);

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function manifests(): Promise<string[]> {
  return (await readdir(node.repoDir, { recursive: true })).filter((f) => String(f).endsWith('manifest.json')).map(String);
}

test.serial('two backups at once: the second exits 11 naming the holder; with --wait it waits, then succeeds', async (t) => {
  const config = await node.writeConfig(node.baseConfig(), 'lock.yml');
  // Holding a write lock on a table makes the first backup wait for its read lock, still
  // holding the host's lock: it is reliably "running" for as long as the test wants.
  const blocker = await connect({ socket: node.server.socket, user: 'root', describe: 'blocker' });
  await blocker.query('LOCK TABLES accounting.cdr WRITE');
  const first = spawn(process.execPath, [CLI, 'backup', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const firstDone = new Promise<number>((resolve) => first.on('close', (code) => resolve(code ?? -1)));
  let firstErr = '';
  first.stderr.on('data', (d) => (firstErr += d));
  let waiting: Promise<{ code: number; stdout: string; stderr: string }> | undefined;
  try {
    await until('the first backup to take the lock', () => exists(lockFile()));

    const second = await runCli(['backup', '--config', config]);
    t.is(second.code, ExitCode.locked, second.stderr);
    t.regex(second.stderr, new RegExp(`ngcp-backup backup \\(pid ${first.pid}, since \\d{4}-\\d\\d-\\d\\dT[^)]+\\) holds the lock`));
    t.regex(second.stderr, /--wait/);
    t.is(second.stderr.trim().split('\n').length, 1, 'one clear line');

    waiting = runCli(['backup', '--wait=120', '--config', config]);
    await sleep(1500);
    t.is(await manifests().then((m) => m.length), 0, 'nothing finished while the table is locked');
  } finally {
    await blocker.query('UNLOCK TABLES');
    await blocker.close();
  }
  t.is(await firstDone, 0, firstErr);
  const third = await waiting!;
  t.is(third.code, 0, third.stderr);
  t.regex(third.stderr, /waiting for the lock: ngcp-backup backup \(pid \d+/);
  t.is((await manifests()).length, 2, 'both the first and the waiting backup stored a snapshot');
  t.false(await exists(lockFile()), 'the lock is released');

  // status names the lock as free and counts the refused run as a failure of the backup job.
  const status = await runCli(['status', '--json', '--config', config]);
  t.is(status.code, 0, status.stderr);
  const s = JSON.parse(status.stdout) as { lock: unknown; jobs: { backup: { last: { result: string }; failuresTotal: number } }; repository: { snapshots: number } };
  t.is(s.lock, null);
  t.is(s.jobs.backup.last.result, 'ok');
  t.is(s.jobs.backup.failuresTotal, 1);
  t.is(s.repository.snapshots, 2);
});

test.serial('kill -9 mid-upload: the next backup takes the stale lock over and aborts the orphaned multipart uploads', async (t) => {
  const repo = await s3TestRepository();
  try {
    const config = await node.writeConfig(
      {
        ...node.baseConfig(),
        repository: { url: repo.url, endpoint: repo.endpoint, path_style: true, part_size_mib: 5 },
        // Little compression, one connection: the cdr table is one object of several parts.
        compression: { level: 1 },
        mysql: { socket: node.server.socket, defaults_file: '/etc/mysql/debian.cnf', parallel: 1, chunk_rows: 1_000_000 },
      },
      'lock-s3.yml',
    );
    const uploads = async () => (await repo.client.send(new ListMultipartUploadsCommand({ Bucket: repo.bucket }))).Uploads ?? [];
    const victim = spawn(process.execPath, [CLI, 'backup', '--config', config], { env: { ...process.env, ...repo.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    const gone = new Promise<void>((resolve) => victim.on('close', () => resolve()));
    let orphans: number;
    try {
      await until('a multipart upload in progress', async () => (await uploads()).length > 0);
    } finally {
      victim.kill('SIGKILL');
      await gone;
    }
    orphans = (await uploads()).length;
    t.true(orphans >= 1);
    t.true(await exists(lockFile()), 'kill -9 left the lock file');

    const next = await runCli(['backup', '--config', config], { ...repo.env });
    t.is(next.code, 0, next.stderr);
    t.regex(next.stderr, new RegExp(`took over the stale lock of ngcp-backup backup \\(pid ${victim.pid}, since [^)]+\\), which is no longer running; aborted ${orphans} incomplete upload`));
    t.deepEqual(await uploads(), [], 'ListMultipartUploads: no orphaned upload is left');
    t.false(await exists(lockFile()));
  } finally {
    await repo.cleanup();
  }
});

// The lock file on its own: what counts as stale, waiting, and release.
async function lockDir(t: import('ava').ExecutionContext): Promise<string> {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const dir = await mkdtemp(path.join((await import('node:os')).tmpdir(), 'ngcp-lock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a lock is stale when its pid is gone or reused, never when it is alive or on another host', async (t) => {
  const { acquireLock, currentHolder } = await import('../../src/service/lock.js');
  const { writeFile } = await import('node:fs/promises');
  const os = await import('node:os');
  const dir = await lockDir(t);
  const file = path.join(dir, 'ngcp-backup.lock');
  const write = (h: object) => writeFile(file, JSON.stringify({ host: os.hostname(), command: 'backup', started: '2026-11-22T02:30:00.000Z', ...h }));

  // Alive: our parent (ava), with its real start time.
  const stat = (await import('node:fs')).readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
  const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  await write({ pid: process.ppid, procStart: start });
  await t.throwsAsync(acquireLock({ dir, command: 'prune' }), { message: new RegExp(`ngcp-backup backup \\(pid ${process.ppid}, since 2026-11-22T02:30:00.000Z\\) holds the lock`) });
  t.like(await currentHolder(dir), { pid: process.ppid, stale: false });

  // The same pid with another start time: the pid was reused, the holder is gone.
  await write({ pid: process.ppid, procStart: String(Number(start) + 1) });
  t.like(await currentHolder(dir), { stale: true });
  let lock = await acquireLock({ dir, command: 'prune' });
  t.like(lock.takenOver, { pid: process.ppid, command: 'backup' });
  await lock.release();
  t.is(await currentHolder(dir), undefined, 'released');

  // A pid that is gone (a child that has exited).
  const child = spawn('true');
  await new Promise((resolve) => child.on('close', resolve));
  await write({ pid: child.pid });
  lock = await acquireLock({ dir, command: 'prune' });
  t.like(lock.takenOver, { pid: child.pid });
  await lock.release();

  // Another host: cannot be judged from here, so it is trusted.
  await write({ pid: 999_999, host: 'other-host' });
  await t.throwsAsync(acquireLock({ dir, command: 'prune' }), { message: /pid 999999 on host other-host/ });

  // Unreadable (not JSON): taken over.
  await writeFile(file, 'garbage');
  lock = await acquireLock({ dir, command: 'prune' });
  t.like(lock.takenOver, { command: 'unknown (unreadable lock file)' });
  await lock.release();
});

test('--wait=SECONDS gives up after that long; an abort (SIGTERM) stops the wait', async (t) => {
  const { acquireLock } = await import('../../src/service/lock.js');
  const { LockedError } = await import('../../src/errors.js');
  const dir = await lockDir(t);
  const held = await acquireLock({ dir, command: 'backup' });
  let waitedFor: string | undefined;
  const t0 = Date.now();
  await t.throwsAsync(acquireLock({ dir, command: 'prune', waitSeconds: 1, pollMs: 50, onWait: (h) => (waitedFor = h.command) }), { instanceOf: LockedError, message: /waited 1 s/ });
  t.true(Date.now() - t0 >= 1000);
  t.is(waitedFor, 'backup');

  const controller = new AbortController();
  const waiting = acquireLock({ dir, command: 'prune', waitSeconds: Infinity, pollMs: 50, signal: controller.signal });
  setTimeout(() => controller.abort(new Error('stopped by SIGTERM')), 200);
  await t.throwsAsync(waiting, { message: 'stopped by SIGTERM' });

  // Released: the next one gets it at once.
  await held.release();
  const next = await acquireLock({ dir, command: 'prune' });
  t.is(next.takenOver, undefined);
  await next.release();
});
