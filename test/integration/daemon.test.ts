import test from 'ava';
import { spawn } from 'node:child_process';
import { access, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { connect } from '../../src/mysql/connection.js';
import { recordFile } from '../../src/service/records.js';
import { sandboxService } from '../../testkit/node.js';
import type { ServiceStatus } from '../../src/app/status.js';
import { CLI, runCli, startTestNode, type TestNode } from '../helpers/node.js';
import { nextRecord, type JobRecord } from '../../src/format/job-record.js';

// The daemon as systemd runs it: a child process, driven by its schedules and by signals.
let node: TestNode;
test.before(async () => {
  node = await startTestNode({ cdrRows: 2000 });
});
test.after.always(async () => node?.stop());

const exists = (f: string) => access(f).then(() => true, () => false);

async function snapshotDirs(): Promise<Array<{ id: string; files: string[] }>> {
  const dir = path.join(node.repoDir, 'snapshots', 'spce');
  const ids = await readdir(dir).catch(() => [] as string[]);
  return Promise.all(ids.map(async (id) => ({ id, files: (await readdir(path.join(dir, id), { recursive: true })).map(String) })));
}

test('daemon: a missed run at start-up, SIGHUP reload, SIGTERM during a run', async (t) => {
  const service = sandboxService(node.root);
  const configFile = path.join(node.dir, 'daemon.yml');
  const config = (schedule: Record<string, unknown>) => ({ ...node.baseConfig(), schedule: { time_zone: 'UTC', ...schedule } });
  // Monthly, on the 1st: far from now, whenever the test runs, so only the missed run fires.
  await writeFile(configFile, stringify(config({ backup: '0 3 1 * *' })), { mode: 0o600 });

  // The last backup ran 40 days ago: the run scheduled since then was missed.
  const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
  const record: JobRecord = nextRecord(undefined, { job: 'backup', result: 'ok', started: old, finished: old, durationMs: 1000, bytes: 1, snapshot: null, error: null, exitCode: 0, lockMs: 1 });
  await mkdir(service.state_dir, { recursive: true });
  await writeFile(recordFile(service.state_dir, 'backup'), JSON.stringify(record), { mode: 0o600 });

  const daemon = spawn(process.execPath, [CLI, 'daemon', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  daemon.stderr.on('data', (d) => (stderr += d));
  daemon.stdout.resume();
  const exited = new Promise<number | null>((resolve) => daemon.on('close', (code) => resolve(code)));
  t.teardown(() => {
    daemon.kill('SIGKILL');
  });
  const until = async (what: string, re: RegExp, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(stderr)) {
      if (Date.now() > deadline || daemon.exitCode !== null) throw new Error(`daemon: no ${what} (${re}) in:\n${stderr}`);
      await sleep(25);
    }
  };

  // 1. The missed backup runs at once, then prune.
  await until('missed-run backup', /backup queued: missed its run scheduled at \S+ \(last run \S+\)/);
  await until('prune after the backup', /prune finished/);
  let snaps = await snapshotDirs();
  t.is(snaps.length, 1);
  t.true(snaps[0]!.files.includes('manifest.json'));
  const status = async () => {
    const r = await runCli(['status', '--json', '--config', configFile]);
    t.is(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as ServiceStatus;
  };
  let s = await status();
  t.like(s.jobs.backup.last, { result: 'ok', snapshot: snaps[0]!.id });
  t.is(s.jobs.backup.schedule, '0 3 1 * *');
  t.like(s.jobs.prune.last, { result: 'ok' });

  // 2. An invalid config on SIGHUP is logged, and the old one kept.
  await writeFile(configFile, stringify(config({ backup: '99 * * * *' })));
  daemon.kill('SIGHUP');
  await until('a refused reload', /config reload failed, keeping the previous config: .*schedule\.backup is not a valid cron expression/);

  // 3. A valid one is picked up: backups every 2 seconds (6 fields, seconds first).
  // A table write lock makes the next backup wait for its read lock: it is reliably mid-run.
  const blocker = await connect({ socket: node.server.socket, user: 'root', describe: 'blocker' });
  await blocker.query('LOCK TABLES accounting.cdr WRITE');
  try {
    await writeFile(configFile, stringify(config({ backup: '*/2 * * * * *' })));
    daemon.kill('SIGHUP');
    await until('the reload', /config reloaded from \S+daemon\.yml: backup: "\*\/2 \* \* \* \* \*"/);
    await until('the scheduled backup', /backup queued: scheduled at/);
    await until('the backup mid-run', /node files stored/);
    await until('no second run while one runs', /backup is due \(scheduled at \S+\) but already running: not run twice/);

    // 4. SIGTERM during the run.
    daemon.kill('SIGTERM');
    await sleep(300);
  } finally {
    await blocker.query('UNLOCK TABLES');
    await blocker.close();
  }
  t.is(await exited, 0, stderr);
  t.regex(stderr, /daemon stopped/);
  snaps = await snapshotDirs();
  t.is(snaps.filter((x) => x.files.includes('manifest.json')).length, 1, 'the aborted run wrote no manifest');
  t.deepEqual(snaps.filter((x) => !x.files.includes('manifest.json')).flatMap((x) => x.files), [], 'and left no objects');
  t.false(await exists(path.join(service.lock_dir, 'ngcp-backup.lock')), 'the lock is released');
  s = await status();
  t.like(s.jobs.backup.last, { result: 'failed', exitCode: 143 });
  t.is(s.jobs.backup.lastSuccess?.snapshot, snaps[0]!.id);
  t.is(s.lock, null);
});
