/**
 * docs/design.md invariant 8: with the repository, the identity and only standard tools, an operator
 * restores by hand. restore/break-glass.sh is that procedure as a script: here it restores real
 * snapshots (file:// and Ceph RGW over S3 with Debian's awscli) into fresh MariaDB servers, and
 * the test recomputes every table's figures itself, independently of the script's own check.
 * It must also refuse: a damaged object, a wrong identity, a target that already has the
 * databases, and a table that differs from the snapshot.
 */
import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { chown, mkdtemp, open, readFile, rm, stat, writeFile, cp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { generateIdentity } from '../../src/crypto/age.js';
import { connect } from '../../src/mysql/connection.js';
import type { Manifest } from '../../src/format/manifest.js';
import { startMariadbInstance, type MariadbInstance } from '../../testkit/scratch-mariadb.js';
import { SEED_FILES } from '../../src/ngcp/files.js';
import { decryptWithCli, PROJECT, readJson, runCommand, startTestNode, type CliResult, type TestNode } from '../helpers/node.js';
import { s3TestRepository, TEST_SECRET_KEY } from '../helpers/s3.js';
import type { SnapshotDetails } from '../../src/format/details.js';

const execFileAsync = promisify(execFile);
const SCRIPT = path.join(PROJECT, 'restore/break-glass.sh');

type Run = CliResult;

/**
 * Runs the script as an operator would: bash, Debian's tools first on PATH (/usr/bin/aws from
 * the awscli package, not another aws that may come earlier), credentials only in the environment.
 */
function breakGlass(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return runCommand('bash', [SCRIPT, ...args], { ...process.env, PATH: `/usr/bin:/bin:${process.env.PATH ?? ''}`, AWS_EC2_METADATA_DISABLED: 'true', ...env });
}

const show = (r: Run): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

let node: TestNode;
let snapshotId: string;
let snapDir: string;
let details: SnapshotDetails;
let manifest: Manifest;

test.before(async () => {
  node = await startTestNode({ cdrRows: 3000 });
  // One node file with an owner other than root, so owners by name are exercised beyond root.
  const nobody = await execFileAsync('getent', ['passwd', 'nobody']).then((r) => r.stdout.split(':'), () => null);
  if (nobody) await chown(path.join(node.root, 'etc/ngcp-config/network.yml'), Number(nobody[2]), Number(nobody[3]));
  const backup = await node.cli(['backup', '--kind', 'nightly', '--json']);
  if (backup.code !== 0) throw new Error(`backup failed: ${backup.stderr}`);
  snapshotId = (JSON.parse(backup.stdout) as { id: string }).id;
  snapDir = path.join(node.repoDir, 'snapshots', 'spce', snapshotId);
  manifest = await readJson<Manifest>(path.join(snapDir, 'manifest.json'));
  details = JSON.parse((await decryptWithCli(path.join(snapDir, 'details.json.age'), node.identityFile, false)).toString('utf8')) as SnapshotDetails;
});
test.after.always(async () => node?.stop());

/** Recomputes every table's figures (and the schema object counts) on the target, the way ngcp-backup restore does. */
async function assertFigures(t: ExecutionContext, server: MariadbInstance): Promise<void> {
  const db = await connect({ socket: server.socket, user: 'root', describe: 'break-glass target' });
  try {
    await db.query("SET time_zone = '+00:00'");
    let tables = 0;
    let rows = 0;
    for (const d of details.databases) {
      for (const table of d.tables.filter((x) => x.hasData)) {
        const [row] = await db.query<{ n: string; s: string | null }>(
          `SELECT COUNT(*) AS n, SUM(CRC32(${table.rowExpression})) AS s FROM \`${d.name}\`.\`${table.name}\``,
        );
        t.is(Number(row!.n), table.rows!, `${d.name}.${table.name} rows`);
        t.is(String(row!.s ?? '0'), table.checksum!, `${d.name}.${table.name} checksum`);
        tables++;
        rows += table.rows!;
      }
      const [counts] = await db.query<Record<string, string>>(
        `SELECT (SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?) AS views,
                (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?) AS routines,
                (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?) AS triggers,
                (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?) AS events`,
        [d.name, d.name, d.name, d.name],
      );
      t.deepEqual(
        { views: Number(counts!.views), routines: Number(counts!.routines), triggers: Number(counts!.triggers), events: Number(counts!.events) },
        d.objects,
        `${d.name} views, routines, triggers, events`,
      );
    }
    t.true(tables > 20, `figures checked on ${tables} tables`);
    t.true(rows > 3000, `${rows} rows`);
    // Grants came back too (accounts other than the system ones).
    const users = await db.query<{ u: string }>("SELECT CONCAT(User, '@', Host) AS u FROM mysql.user");
    for (const account of details.grants) t.true(users.some((u) => u.u === account), `account ${account} restored`);
  } finally {
    await db.close();
  }
}

/** The databases of the snapshot that exist on a server. */
async function snapshotDatabasesOn(server: MariadbInstance): Promise<string[]> {
  const db = await connect({ socket: server.socket, user: 'root', describe: 'target' });
  try {
    const rows = await db.query<{ d: string }>('SELECT SCHEMA_NAME AS d FROM information_schema.SCHEMATA');
    return rows.map((r) => r.d).filter((d) => manifest.databases.includes(d));
  } finally {
    await db.close();
  }
}

/** Every entry of the files artifact is there with its mode, and its owner and group by name. */
async function assertFiles(t: ExecutionContext, filesDir: string): Promise<void> {
  const { stdout } = await execFileAsync('find', [filesDir, '-printf', '/%P\t%m\t%u\t%g\t%y\n'], { maxBuffer: 1 << 24 });
  const found = new Map(stdout.trim().split('\n').map((l) => {
    const [p, mode, user, group, type] = l.split('\t');
    return [p!, { mode: parseInt(mode!, 8), user: user!, group: group!, type: type! }] as const;
  }));
  const known = new Map<string, Promise<boolean>>();
  const exists = (db: 'passwd' | 'group', name: string): Promise<boolean> => {
    const key = `${db}:${name}`;
    if (!known.has(key)) known.set(key, execFileAsync('getent', [db, name]).then(() => true, () => false));
    return known.get(key)!;
  };
  for (const e of details.files) {
    const f = found.get(e.path);
    if (!f) {
      t.fail(`${e.path} not restored`);
      continue;
    }
    if (e.type !== 'symlink') t.is(f.mode, e.mode, `${e.path} mode`);
    t.is(f.user, (await exists('passwd', e.user)) ? e.user : 'root', `${e.path} owner`);
    t.is(f.group, (await exists('group', e.group)) ? e.group : 'root', `${e.path} group`);
  }
  for (const file of [...SEED_FILES, '/etc/mysql/sipwise.cnf']) {
    t.true((await readFile(path.join(node.root, file))).equals(await readFile(path.join(filesDir, file))), `${file} content`);
  }
  t.true(found.has('/etc/ngcp-config/.git/HEAD'), '/etc/ngcp-config/.git restored');
}

test('file:// repository: files and databases restored into a fresh MariaDB, every figure matches; refusals and re-checks', async (t) => {
  const work = await mkdtemp(path.join(os.tmpdir(), 'break-glass-file-'));
  const server = await startMariadbInstance();
  try {
    const repo = `file://${node.repoDir}`;
    const list = await breakGlass(['--repo', repo, '--list']);
    t.is(list.code, 0, show(list));
    t.regex(list.stdout, new RegExp(`spce\\s+${snapshotId}`));

    const filesDir = path.join(work, 'files');
    const r = await breakGlass(['--repo', repo, '--identity', node.identityFile, '--latest', '--socket', server.socket, '--files-to', filesDir, '--work-dir', path.join(work, 'w'), '--jobs', '2']);
    t.is(r.code, 0, show(r));
    t.regex(r.stdout, new RegExp(`verified ${manifest.objects.length} objects`));
    t.regex(r.stdout, /figures match: \d+ tables/);
    t.regex(r.stdout, /exporter-lastseq = \d+/, 'the CDR export sequence is reported');
    t.regex(r.stdout, /ngcpcfg apply 'restored the system from the backup'/);
    await assertFiles(t, filesDir);
    await assertFigures(t, server);

    // The target now has the databases: the script refuses to load over them.
    const again = await breakGlass(['--repo', repo, '--identity', node.identityFile, '--snapshot', snapshotId, '--socket', server.socket, '--databases-only', '--work-dir', path.join(work, 'w2')]);
    t.is(again.code, 16, show(again));
    t.regex(again.stderr, /already has the database\(s\) accounting .*--replace-databases/);

    // --check-only recomputes the figures with each interpreter the script can use; and says so without one.
    for (const interpreter of ['node', 'perl']) {
      const c = await breakGlass(['--repo', repo, '--identity', node.identityFile, '--latest', '--socket', server.socket, '--check-only'], { BREAK_GLASS_FIGURES_WITH: interpreter });
      t.is(c.code, 0, show(c));
      t.regex(c.stdout, new RegExp(`figures match: .*read with ${interpreter}`));
    }
    const none = await breakGlass(['--repo', repo, '--identity', node.identityFile, '--latest', '--socket', server.socket, '--check-only'], { BREAK_GLASS_FIGURES_WITH: 'none' });
    t.is(none.code, 0, show(none));
    t.regex(none.stderr, /FIGURES NOT CHECKED/);

    // A changed row and a lost table are a failed restore, loudly.
    await execFileAsync('mariadb', ['-uroot', `--socket=${server.socket}`, '-e', "UPDATE billing.contacts SET firstname = CONCAT(IFNULL(firstname, ''), 'x') LIMIT 1; DROP TABLE kamailio.location"]);
    const bad = await breakGlass(['--repo', repo, '--identity', node.identityFile, '--latest', '--socket', server.socket, '--check-only']);
    t.is(bad.code, 15, show(bad));
    t.regex(bad.stderr, /MISMATCH billing\.contacts/);
    t.regex(bad.stderr, /MISSING +kamailio\.location/);
    t.regex(bad.stderr, /FIGURES DIFFER/);

    // --replace-databases: a safety dump (encrypted to the identity), then a clean load.
    const replace = await breakGlass(['--repo', repo, '--identity', node.identityFile, '--latest', '--socket', server.socket, '--databases-only', '--replace-databases', '--work-dir', path.join(work, 'w3')]);
    t.is(replace.code, 0, show(replace));
    const safety = path.join(work, 'w3', `safety-before-${snapshotId}.sql.zst.age`);
    t.regex((await decryptWithCli(safety, node.identityFile, true)).toString('utf8'), /CREATE TABLE `contacts`/);
    await assertFigures(t, server);
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
});

test('s3:// repository (Ceph RGW): awscli downloads, the script restores, every figure matches; no secret in its output', async (t) => {
  const repo = await s3TestRepository();
  const work = await mkdtemp(path.join(os.tmpdir(), 'break-glass-s3-'));
  let server: MariadbInstance | undefined;
  try {
    const config = await node.writeConfig({ ...node.baseConfig(), repository: { url: repo.url, endpoint: repo.endpoint, path_style: true } }, 'break-glass-s3.yml');
    const backup = await node.cli(['backup', '--kind', 'manual', '--json'], { config, env: repo.env });
    t.is(backup.code, 0, backup.stderr);
    const id = (JSON.parse(backup.stdout) as { id: string }).id;

    const list = await breakGlass(['--repo', repo.url, '--endpoint', repo.endpoint, '--list'], repo.env);
    t.is(list.code, 0, show(list));
    t.regex(list.stdout, new RegExp(`spce\\s+${id}`));

    // Refused credentials: exit 13 with the store's error code, and the secret nowhere.
    const badSecret = 'wrong-secret-0123456789abcdef';
    const denied = await breakGlass(['--repo', repo.url, '--endpoint', repo.endpoint, '--list'], { ...repo.env, AWS_SECRET_ACCESS_KEY: badSecret });
    t.is(denied.code, 13, show(denied));
    t.regex(denied.stderr, /SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId/);
    t.false(denied.stdout.includes(badSecret) || denied.stderr.includes(badSecret));

    server = await startMariadbInstance();
    const filesDir = path.join(work, 'files');
    const r = await breakGlass(
      ['--repo', repo.url, '--endpoint', repo.endpoint, '--identity', node.identityFile, '--snapshot', id, '--node', 'spce', '--socket', server.socket, '--files-to', filesDir, '--work-dir', path.join(work, 'w')],
      repo.env,
    );
    t.is(r.code, 0, show(r));
    t.regex(r.stdout, /downloading s3:\/\//);
    t.regex(r.stdout, /figures match/);
    t.false(r.stdout.includes(TEST_SECRET_KEY) || r.stderr.includes(TEST_SECRET_KEY), 'no secret in the output');
    // Only encrypted objects were written to disk.
    const downloaded = path.join(work, 'w', 'snapshots', 'spce', id);
    const s3Manifest = await readJson<Manifest>(path.join(downloaded, 'manifest.json'));
    for (const o of s3Manifest.objects) t.is((await stat(path.join(downloaded, o.name))).size, o.size, `${o.name} downloaded`);
    const { stdout: plainFiles } = await execFileAsync('find', [path.join(work, 'w'), '-type', 'f', '!', '-name', '*.age', '!', '-name', 'manifest.json']);
    t.is(plainFiles.trim(), '', 'no plaintext left in the work directory');
    await assertFiles(t, filesDir);
    await assertFigures(t, server);
  } finally {
    await server?.stop();
    await repo.cleanup();
    await rm(work, { recursive: true, force: true });
  }
});

/** Failure cases share one fresh server: it must stay untouched. */
let untouched: Promise<MariadbInstance> | undefined;
const untouchedServer = (): Promise<MariadbInstance> => (untouched ??= startMariadbInstance());
test.after.always(async () => (await untouched)?.stop());

test('a flipped byte in one object: refuses before loading anything, naming the object', async (t) => {
  const server = await untouchedServer();
  const work = await mkdtemp(path.join(os.tmpdir(), 'break-glass-damaged-'));
  try {
    const repoDir = path.join(work, 'repo');
    await cp(node.repoDir, repoDir, { recursive: true });
    const victim = manifest.objects.filter((o) => o.role === 'data').sort((a, b) => b.size - a.size)[0]!;
    const file = path.join(repoDir, 'snapshots', 'spce', snapshotId, victim.name);
    const fh = await open(file, 'r+');
    try {
      const at = Math.floor(victim.size / 2);
      const byte = Buffer.alloc(1);
      await fh.read(byte, 0, 1, at);
      byte[0]! ^= 0x01;
      await fh.write(byte, 0, 1, at);
    } finally {
      await fh.close();
    }
    const filesDir = path.join(work, 'files');
    const r = await breakGlass(['--repo', `file://${repoDir}`, '--identity', node.identityFile, '--latest', '--socket', server.socket, '--files-to', filesDir, '--work-dir', path.join(work, 'w')]);
    t.is(r.code, 14, show(r));
    t.true(r.stderr.includes(`${victim.name}: sha256 differs from the manifest`), r.stderr);
    t.regex(r.stderr, /nothing was restored/);
    t.deepEqual(await snapshotDatabasesOn(server), [], 'no database created');
    await t.throwsAsync(stat(filesDir), undefined, 'no file unpacked');

    // A missing object is named as well.
    await rm(file);
    const missing = await breakGlass(['--repo', `file://${repoDir}`, '--identity', node.identityFile, '--latest', '--socket', server.socket, '--work-dir', path.join(work, 'w')]);
    t.is(missing.code, 14, show(missing));
    t.true(missing.stderr.includes(`${victim.name}: missing`), missing.stderr);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

test('a wrong identity: fails clearly before touching anything', async (t) => {
  const server = await untouchedServer();
  const work = await mkdtemp(path.join(os.tmpdir(), 'break-glass-identity-'));
  try {
    const other = await generateIdentity();
    const otherFile = path.join(work, 'other-identity.txt');
    await writeFile(otherFile, other.identity + '\n', { mode: 0o600 });
    const filesDir = path.join(work, 'files');
    const args = ['--repo', `file://${node.repoDir}`, '--latest', '--socket', server.socket, '--files-to', filesDir, '--work-dir', path.join(work, 'w')];
    const r = await breakGlass([...args, '--identity', otherFile]);
    t.is(r.code, 12, show(r));
    t.true(r.stderr.includes(`the identity ${otherFile} (recipient ${other.recipient}) is not one this snapshot was encrypted to`), r.stderr);
    t.true(r.stderr.includes(node.recipient), 'names the recipient the snapshot needs');
    t.false(r.stderr.includes(other.identity), 'the secret key is not printed');

    const garbage = path.join(work, 'garbage.txt');
    await writeFile(garbage, 'not an age identity\n', { mode: 0o600 });
    const g = await breakGlass([...args, '--identity', garbage]);
    t.is(g.code, 12, show(g));
    t.regex(g.stderr, /cannot decrypt details\.json\.age/);

    const none = await breakGlass([...args, '--identity', path.join(work, 'no-such-file')]);
    t.is(none.code, 12, show(none));
    t.regex(none.stderr, /cannot read the identity file/);

    t.deepEqual(await snapshotDatabasesOn(server), [], 'no database created');
    await t.throwsAsync(stat(filesDir), undefined, 'no file unpacked');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

test('refuses to unpack over / and a password on the command line', async (t) => {
  const work = await mkdtemp(path.join(os.tmpdir(), 'break-glass-refuse-'));
  try {
    const base = ['--repo', `file://${node.repoDir}`, '--identity', node.identityFile, '--latest', '--work-dir', work];
    const root = await breakGlass([...base, '--files-only', '--files-to', '/']);
    t.is(root.code, 16, show(root));
    t.regex(root.stderr, /--files-to \/ would write over the live system/);
    const password = await breakGlass([...base, '--password=hunter2']);
    t.is(password.code, 2, show(password));
    t.regex(password.stderr, /--defaults-extra-file/);
    t.false(password.stderr.includes('hunter2'));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
