import test from 'ava';
import { readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { connect } from '../../src/mysql/connection.js';
import { ExitCode } from '../../src/errors.js';
import { startTestNode, type TestNode } from '../helpers/node.js';

// Every failure: one clear message naming the problem, its documented exit code, and nothing
// left in the repository (no manifest, no objects).
let node: TestNode;
test.before(async () => {
  node = await startTestNode({ cdrRows: 150_000 });
});
test.after.always(async () => node?.stop());

async function repositoryFiles(): Promise<string[]> {
  return (await readdir(node.repoDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

test.serial('database unreachable: exit 5, names the socket, stores nothing', async (t) => {
  const config = await node.writeConfig({ ...node.baseConfig(), mysql: { socket: '/nonexistent/mysqld.sock' } }, 'no-db.yml');
  const r = await node.cli(['backup'], { config });
  t.is(r.code, ExitCode.database, r.stderr);
  t.regex(r.stderr, /cannot reach MariaDB at socket \/nonexistent\/mysqld\.sock/);
  t.is(r.stderr.trim().split('\n').length, 1, 'one clear line');
  t.deepEqual(await repositoryFiles(), []);
});

test.serial('wrong MariaDB password: exit 5, says access denied', async (t) => {
  const pwFile = path.join(node.dir, 'wrong-password');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(pwFile, 'not-the-password\n', { mode: 0o600 });
  const config = await node.writeConfig({ ...node.baseConfig(), mysql: { socket: node.server.socket, user: 'debian-sys-maint', password_file: pwFile } }, 'bad-pw.yml');
  const r = await node.cli(['backup'], { config });
  t.is(r.code, ExitCode.database, r.stderr);
  t.regex(r.stderr, /access denied/);
  t.false(r.stderr.includes('not-the-password'));
  t.deepEqual(await repositoryFiles(), []);
});

test.serial('a required node file missing: exit 4, names the file', async (t) => {
  const file = path.join(node.root, 'etc/ngcp-config/constants.yml');
  await rename(file, file + '.away');
  try {
    const r = await node.cli(['backup']);
    t.is(r.code, ExitCode.nodeData, r.stderr);
    t.regex(r.stderr, /required node file missing: .*etc\/ngcp-config\/constants\.yml/);
    t.deepEqual(await repositoryFiles(), []);
  } finally {
    await rename(file + '.away', file);
  }
});

test.serial('neither sipwise.cnf nor sipwise_extra.cnf: exit 4, names both', async (t) => {
  const a = path.join(node.root, 'etc/mysql/sipwise.cnf');
  const b = path.join(node.root, 'etc/mysql/sipwise_extra.cnf');
  await rename(a, a + '.away');
  await rename(b, b + '.away').catch(() => {});
  try {
    const r = await node.cli(['backup']);
    t.is(r.code, ExitCode.nodeData, r.stderr);
    t.regex(r.stderr, /sipwise\.cnf or .*sipwise_extra\.cnf/);
  } finally {
    await rename(a + '.away', a);
    await rename(b + '.away', b).catch(() => {});
  }
});

test.serial('an invalid config key: exit 3, names the key', async (t) => {
  const unknown = await node.writeConfig({ ...node.baseConfig(), mysql: { socket: node.server.socket, prot: 3306 } }, 'unknown.yml');
  let r = await node.cli(['backup'], { config: unknown });
  t.is(r.code, ExitCode.config, r.stderr);
  t.regex(r.stderr, /mysql\.prot is not a known key/);

  const badType = await node.writeConfig({ ...node.baseConfig(), mysql: { port: 'abc' } }, 'bad-type.yml');
  r = await node.cli(['backup'], { config: badType });
  t.is(r.code, ExitCode.config);
  t.regex(r.stderr, /mysql\.port must be a whole number/);

  const badUrl = await node.writeConfig({ ...node.baseConfig(), repository: { url: 'ftp://x/y' } }, 'bad-url.yml');
  r = await node.cli(['backup'], { config: badUrl });
  t.is(r.code, ExitCode.config);
  t.regex(r.stderr, /repository\.url must be s3:\/\/bucket/);

  r = await node.cli(['backup'], { config: path.join(node.dir, 'nope.yml') });
  t.is(r.code, ExitCode.config);
  t.regex(r.stderr, /config file .*nope\.yml does not exist/);
  t.deepEqual(await repositoryFiles(), []);
});

test.serial('a recipient that is not an age key: exit 3, names the key, never echoes a secret key', async (t) => {
  let config = await node.writeConfig({ ...node.baseConfig(), encryption: { recipients: [node.recipient, 'age1notakey'] } }, 'bad-recipient.yml');
  let r = await node.cli(['backup'], { config });
  t.is(r.code, ExitCode.config, r.stderr);
  t.regex(r.stderr, /encryption\.recipients\[1\]/);

  config = await node.writeConfig({ ...node.baseConfig(), encryption: { recipients: [node.identity] } }, 'identity-as-recipient.yml');
  r = await node.cli(['backup'], { config });
  t.is(r.code, ExitCode.config, r.stderr);
  t.regex(r.stderr, /encryption\.recipients\[0\]/);
  t.false(r.stderr.includes(node.identity), 'the secret key is not echoed');
  t.deepEqual(await repositoryFiles(), []);
});

test.serial('an unknown flag: exit 2', async (t) => {
  const r = await node.cli(['backup', '--kinds', 'nightly']);
  t.is(r.code, ExitCode.usage);
  t.regex(r.stderr, /--kinds/);
});

test.serial('the dump connection killed mid-way: exit 5, no manifest, nothing left', async (t) => {
  const config = await node.writeConfig({ ...node.baseConfig(), mysql: { socket: node.server.socket, defaults_file: '/etc/mysql/debian.cnf', parallel: 1, chunk_rows: 1_000_000 } }, 'kill.yml');
  const running = node.cli(['backup'], { config });
  const admin = await connect({ socket: node.server.socket, user: 'root', describe: 'admin' });
  let killed = false;
  for (let i = 0; i < 2000 && !killed; i++) {
    const rows = await admin.query<{ id: number; info: string | null }>(
      "SELECT ID AS id, INFO AS info FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT %FROM `accounting`.`cdr`%' AND ID <> CONNECTION_ID()",
    );
    if (rows[0]) {
      await admin.query(`KILL CONNECTION ${rows[0].id}`);
      killed = true;
    } else await new Promise((r) => setTimeout(r, 5));
  }
  await admin.close();
  const r = await running;
  t.true(killed, 'caught the cdr dump running');
  t.is(r.code, ExitCode.database, r.stderr);
  t.regex(r.stderr, /MariaDB|connection/i);
  t.deepEqual(await repositoryFiles(), [], 'no manifest and no objects left');
});
