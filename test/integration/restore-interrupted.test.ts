import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ServiceStatus } from '../../src/app/status.js';
import { ExitCode } from '../../src/errors.js';
import { connect } from '../../src/mysql/connection.js';
import { sandboxService } from '../../testkit/node.js';
import { ngcpcfgStandIn, type NgcpcfgStandIn } from '../helpers/ngcpcfg.js';
import { databaseChecksums } from '../helpers/db-state.js';
import { CLI, runCommand, startTestNode, type TestNode } from '../helpers/node.js';

// A restore that changed the node and did not complete (kill -9, a failed ngcpcfg apply): the
// node remembers it until it is rolled back; status, metrics, alerts and backups say so; the
// rollback command it prints works exactly as printed.
let source: TestNode;
let target: TestNode;
let ngcpcfg: NgcpcfgStandIn;
let hook: Server;
let alerts: Array<{ job: string; error: string }> = [];
let bin: string;
let sourceId: string;

test.before(async () => {
  [source, target] = await Promise.all([startTestNode({ cdrRows: 20_000 }), startTestNode({ cdrRows: 10, secrets: { constants: 'fresh-install', debianCnf: 'fresh-install' } })]);
  // A database the target does not have: a failed restore creates it, the rollback must drop it.
  const db = await connect({ socket: source.server.socket, user: 'root', describe: 'source' });
  await db.query('CREATE DATABASE extra_db');
  await db.query('CREATE TABLE extra_db.t (id INT PRIMARY KEY)');
  await db.query('INSERT INTO extra_db.t VALUES (1), (2)');
  await db.close();
  const b = await source.cli(['backup', '--kind', 'nightly', '--json']);
  if (b.code !== 0) throw new Error(b.stderr);
  sourceId = (JSON.parse(b.stdout) as { id: string }).id;
  ngcpcfg = await ngcpcfgStandIn(path.join(target.dir, 'ngcpcfg'), { file: path.join(target.root, 'etc/ngcp-config/constants.yml'), socket: target.server.socket });
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      alerts.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  // The printed commands are run as printed: `ngcp-backup` on the PATH is this build.
  bin = path.join(target.dir, 'bin');
  await mkdir(bin, { recursive: true });
  await writeFile(path.join(bin, 'ngcp-backup'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  await chmod(path.join(bin, 'ngcp-backup'), 0o755);
});
test.after.always(async () => {
  hook?.close();
  await Promise.all([source?.stop(), target?.stop()]);
});

const work = () => path.join(target.dir, 'work');
const metricsFile = () => path.join(target.dir, 'metrics.prom');

/** The target's own config: its repository is the source's (the replacement machine's case). */
function targetConfig(): Promise<string> {
  return target.writeConfig(
    {
      node: { root: target.root },
      mysql: { socket: target.server.socket, defaults_file: '/etc/mysql/debian.cnf' },
      repository: { url: `file://${source.repoDir}` },
      encryption: { recipients: [source.recipient] },
      restore: { work_dir: work() },
      service: { ...sandboxService(target.root), metrics_file: metricsFile() },
      alerts: { webhook: { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` } },
    },
    'target.yml',
  );
}

/** The databases of the target with a checksum of every table, and its node files. */
async function targetState(): Promise<Record<string, string>> {
  const out = await databaseChecksums(target.server.socket);
  for (const rel of ['etc/ngcp-config/constants.yml', 'etc/ngcp-config/network.yml', 'etc/mysql/debian.cnf', 'etc/ngcp_version']) {
    out[rel] = createHash('sha256').update(await readFile(path.join(target.root, rel))).digest('hex');
  }
  return out;
}

async function status(config: string): Promise<ServiceStatus> {
  const r = await target.cli(['status', '--json'], { config });
  return JSON.parse(r.stdout) as ServiceStatus;
}

/** Runs a command line as an operator pastes it into a shell. */
function asPrinted(command: string) {
  return runCommand('bash', ['-c', command], { ...ngcpcfg.env(process.env), PATH: `${bin}:${ngcpcfg.env().PATH}` });
}

const downloads = async () => (await readdir(work()).catch(() => [] as string[])).filter((n) => n.startsWith('ngcp-backup-restore-'));

test.serial('kill -9 during a restore: status, metrics, backups and the next restore say so; the printed rollback works as printed', async (t) => {
  const config = await targetConfig();
  const before = await targetState();
  t.false('extra_db.t' in before);

  const child = spawn(process.execPath, [CLI, 'restore', '--latest', '--identity', source.identityFile, '--yes', '--config', config], { env: ngcpcfg.env(process.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  let killed = false;
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    if (!killed && /schemas created/.test(stderr)) {
      killed = true;
      child.kill('SIGKILL');
    }
  });
  await new Promise((resolve) => child.on('close', resolve));
  t.true(killed, stderr);
  t.regex(stdout, /^restore plan for snapshot .*\n  target: node root /, 'the plan came before any work');
  t.true((await downloads()).length > 0, 'the killed run left its download');

  // status: half-restored, the safety snapshot and the rollback command.
  const s = await status(config);
  t.truthy(s.restore, JSON.stringify(s));
  t.false(s.restore!.running);
  t.regex(s.restore!.safetySnapshot!, /-safety-/);
  const rollback = s.restore!.rollbackCommand!;
  t.is(rollback, `ngcp-backup restore ${s.restore!.safetySnapshot} --identity ${source.identityFile} --yes --no-safety-snapshot --config ${config}`);
  t.true(s.restore!.createdDatabases.includes('extra_db'));
  const text = await target.cli(['status'], { config });
  t.regex(text.stdout, /HALF-RESTORED: restore of snapshot \S+ \(node spce\) started \S+, interrupted \(its process \d+ is gone\)/);
  t.true(text.stdout.includes(`to roll back:    ${rollback}`));
  t.regex(await readFile(metricsFile(), 'utf8'), /\nngcp_backup_restore_incomplete\{node="spce",snapshot="\S+",safety_snapshot="\S+-safety-\S+",rollback="ngcp-backup restore [^"]+"\} 1\n/);

  // Every backup refuses, naming the rollback; the alert goes out once.
  alerts = [];
  for (let i = 0; i < 2; i++) {
    const b = await target.cli(['backup'], { config });
    t.is(b.code, ExitCode.refused, b.stderr);
    t.regex(b.stderr, /node spce is half-restored: restore of snapshot .*interrupted.*to roll back: ngcp-backup restore \S+-safety-/);
    t.regex(b.stderr, /backup --allow-half-restored/);
  }
  t.is(alerts.length, 1, JSON.stringify(alerts));
  t.regex(alerts[0]!.error, /half-restored/);

  // The next restore offers the rollback.
  const dry = await target.cli(['restore', '--latest', '--identity', source.identityFile, '--dry-run'], { config });
  t.is(dry.code, 0, dry.stderr);
  t.true(dry.stdout.includes(`to roll back instead: ${rollback}`), dry.stdout);
  t.regex(dry.stdout, /no new safety snapshot: this node is half-restored/);

  // The rollback, exactly as printed: the node as it was, the created database gone, the stale download removed.
  const r = await asPrinted(rollback);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /drop databases the unfinished restore created, which this snapshot does not have: extra_db/);
  t.regex(r.stderr, /removed 1 download\(s\) that runs which are no longer running left/);
  t.deepEqual(await downloads(), []);
  t.deepEqual(await targetState(), before, 'databases and files as before the restore');
  t.is((await status(config)).restore, null);
  t.regex(await readFile(metricsFile(), 'utf8'), /\nngcp_backup_restore_incomplete\{node="spce"\} 0\n/);
  const b = await target.cli(['backup'], { config });
  t.is(b.code, 0, b.stderr);
});

test.serial('--force-version restore whose ngcpcfg apply fails: the printed rollback works and drops the database it created; network.yml was kept', async (t) => {
  const config = await targetConfig();
  await writeFile(path.join(target.root, 'etc/ngcp_version'), 'mr13.4.1\n');
  const network = path.join(target.root, 'etc/ngcp-config/network.yml');
  await writeFile(network, (await readFile(network, 'utf8')) + '# this machine: eth7 192.0.2.77\n');
  const before = await targetState();
  alerts = [];
  await ngcpcfg.fail(1);
  let r;
  try {
    // By id: the target's own backups are in this repository too by now.
    r = await target.cli(['restore', sourceId, '--identity', source.identityFile, '--yes', '--force-version'], { config, env: ngcpcfg.env() });
  } finally {
    await ngcpcfg.fail(0);
  }
  t.is(r.code, ExitCode.applyFailed, r.stderr);
  const rollback = /to roll back: (.+)$/m.exec(r.stderr)?.[1];
  t.regex(rollback ?? '', new RegExp(`^ngcp-backup restore \\S+-safety-\\S+ --identity \\S+ --yes --no-safety-snapshot --config ${config} --force-version$`));
  t.is(alerts.length, 1, 'the failed restore alerted once');
  t.is((await targetState())['etc/ngcp-config/network.yml'], before['etc/ngcp-config/network.yml'], 'network.yml kept from the target');
  t.not((await targetState())['etc/ngcp_version'], before['etc/ngcp_version'], 'the snapshot\'s release files were restored');
  t.truthy((await targetState())['extra_db.t'], 'the failed restore created extra_db');

  const back = await asPrinted(rollback!);
  t.is(back.code, 0, back.stderr);
  const after = await targetState();
  t.false('extra_db.t' in after, 'the rollback dropped the database the failed restore created');
  t.deepEqual(after, before);
  t.is((await status(config)).restore, null);
  t.is(alerts.length, 1, 'no second alert');
});
