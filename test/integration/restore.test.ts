import test from 'ava';
import { sandboxService } from '../../testkit/node.js';
import { createHash } from 'node:crypto';
import { cp, readdir, readFile, rm, writeFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode } from '../../src/errors.js';
import { generateIdentity } from '../../src/crypto/age.js';
import { connect } from '../../src/mysql/connection.js';
import type { Manifest } from '../../src/format/manifest.js';
import { s3TestRepository } from '../helpers/s3.js';
import { ngcpcfgStandIn, type NgcpcfgStandIn } from '../helpers/ngcpcfg.js';
import { readJson, startTestNode, type TestNode } from '../helpers/node.js';

// Bare metal: a backup of one node restored onto a freshly installed node (its own MariaDB,
// other passwords), and every refusal that must leave that node untouched.
let source: TestNode;
let target: TestNode;
let ngcpcfg: NgcpcfgStandIn;
let fileId: string;
let s3: Awaited<ReturnType<typeof s3TestRepository>>;

test.before(async () => {
  [source, target] = await Promise.all([
    startTestNode({ cdrRows: 3000 }),
    startTestNode({ cdrRows: 10, secrets: { constants: 'fresh-install', debianCnf: 'fresh-install' } }),
  ]);
  s3 = await s3TestRepository();
  const b = await source.cli(['backup', '--kind', 'nightly', '--json']);
  if (b.code !== 0) throw new Error(b.stderr);
  fileId = (JSON.parse(b.stdout) as { id: string }).id;
  const s3Config = await source.writeConfig({ ...source.baseConfig(), repository: { url: s3.url, endpoint: s3.endpoint } }, 's3.yml');
  const b2 = await source.cli(['backup', '--kind', 'nightly'], { config: s3Config, env: s3.env });
  if (b2.code !== 0) throw new Error(b2.stderr);
  ngcpcfg = await ngcpcfgStandIn(path.join(target.dir, 'ngcpcfg'), { file: path.join(target.root, 'etc/ngcp-config/constants.yml'), socket: target.server.socket });
});
test.after.always(async () => {
  await s3?.cleanup();
  await Promise.all([source?.stop(), target?.stop()]);
});

function targetConfig(repository: Record<string, unknown>, mysql?: Record<string, unknown>, restore: Record<string, unknown> = {}): Promise<string> {
  return target.writeConfig(
    {
      node: { root: target.root },
      mysql: mysql ?? { socket: target.server.socket, defaults_file: '/etc/mysql/debian.cnf' },
      repository,
      encryption: { recipients: [source.recipient] },
      restore: { work_dir: path.join(target.dir, 'work'), ...restore },
      service: sandboxService(target.root),
    },
    `target-${Math.random().toString(36).slice(2)}.yml`,
  );
}

/** A fingerprint of everything a restore could change on the target. */
async function targetState(): Promise<string> {
  const h = createHash('sha256');
  for (const e of (await readdir(path.join(target.root, 'etc'), { recursive: true, withFileTypes: true })).sort((a, b) => (a.parentPath + a.name).localeCompare(b.parentPath + b.name))) {
    const p = path.join(e.parentPath, e.name);
    const st = await stat(p);
    h.update(`${p} ${st.mode} ${st.uid}\n`);
    if (e.isFile()) h.update(await readFile(p));
  }
  const db = await connect({ socket: target.server.socket, user: 'root', describe: 'check' });
  const [row] = await db.query<Record<string, string>>('SELECT COUNT(*) AS n, (SELECT COUNT(*) FROM information_schema.TABLES) AS t FROM accounting.cdr');
  const [sum] = await db.query<Record<string, string>>('CHECKSUM TABLE accounting.cdr, billing.contracts');
  await db.close();
  h.update(JSON.stringify([row, sum]));
  return h.digest('hex');
}

async function refuses(t: any, config: string, args: string[], code: number, message: RegExp): Promise<void> {
  const before = await targetState();
  const r = await target.cli(['restore', ...args, '--yes'], { config, env: ngcpcfg.env() });
  t.is(r.code, code, r.stderr);
  t.regex(r.stderr, message);
  t.is(await targetState(), before, 'the node is untouched');
  t.deepEqual(await ngcpcfg.calls(), [], 'apply never ran');
}

test.serial('refusal: one flipped byte in one object', async (t) => {
  const repo = path.join(target.dir, 'repo-flipped');
  await cp(source.repoDir, repo, { recursive: true });
  const snap = path.join(repo, 'snapshots/spce', fileId);
  const manifest = await readJson<Manifest>(path.join(snap, 'manifest.json'));
  const victim = manifest.objects.find((o) => o.role === 'data' && o.table === 'cdr')!;
  const bytes = await readFile(path.join(snap, victim.name));
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  await writeFile(path.join(snap, victim.name), bytes);
  await refuses(t, await targetConfig({ url: `file://${repo}` }), ['--latest', '--identity', source.identityFile], ExitCode.integrity, new RegExp(`${victim.name.replace(/\./g, '\\.')} .*damaged`));
});

test.serial('refusal: a missing object', async (t) => {
  const repo = path.join(target.dir, 'repo-missing');
  await cp(source.repoDir, repo, { recursive: true });
  const snap = path.join(repo, 'snapshots/spce', fileId);
  await rm(path.join(snap, 'db/billing/objects.sql.zst.age'));
  await refuses(t, await targetConfig({ url: `file://${repo}` }), ['--latest', '--identity', source.identityFile], ExitCode.integrity, /db\/billing\/objects\.sql\.zst\.age .*missing/);
});

test.serial('refusal: a wrong identity', async (t) => {
  const other = path.join(target.dir, 'other-identity.txt');
  await writeFile(other, (await generateIdentity()).identity + '\n', { mode: 0o600 });
  await refuses(t, await targetConfig({ url: `file://${source.repoDir}` }), ['--latest', '--identity', other], ExitCode.key, /no identity matches/);
});

test.serial('refusal: an NGCP version mismatch (unless --force-version)', async (t) => {
  const file = path.join(target.root, 'etc/ngcp_version');
  const original = await readFile(file, 'utf8');
  await writeFile(file, 'mr12.5.1\n');
  try {
    await refuses(t, await targetConfig({ url: `file://${source.repoDir}` }), ['--latest', '--identity', source.identityFile], ExitCode.refused, /NGCP mr13\.5\.1, this node runs mr12\.5\.1.*--force-version/);
  } finally {
    await writeFile(file, original);
  }
});

test.serial('refusal: MariaDB unreachable', async (t) => {
  const config = await targetConfig({ url: `file://${source.repoDir}` }, { socket: path.join(target.dir, 'no.sock') });
  await refuses(t, config, ['--latest', '--identity', source.identityFile], ExitCode.database, /cannot reach MariaDB at socket/);
});

test.serial('refusal: not confirmed (no --yes, no terminal)', async (t) => {
  const before = await targetState();
  const r = await target.cli(['restore', '--latest', '--identity', source.identityFile], { config: await targetConfig({ url: `file://${source.repoDir}` }), env: ngcpcfg.env() });
  t.is(r.code, ExitCode.refused, r.stderr);
  t.regex(r.stderr, /not confirmed/);
  t.is(await targetState(), before);
});

test.serial('--dry-run prints the plan and changes nothing', async (t) => {
  const before = await targetState();
  const r = await target.cli(['restore', '--latest', '--identity', source.identityFile, '--dry-run'], { config: await targetConfig({ url: `file://${source.repoDir}` }), env: ngcpcfg.env() });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /restore plan for snapshot/);
  t.regex(r.stdout, /safety snapshot/);
  t.regex(r.stdout, /ngcpcfg apply 'restored the system from backup/);
  t.regex(r.stdout, /dry run: nothing was changed/);
  t.is(await targetState(), before);
});

test.serial('bare metal from S3: files and figures equal, ngcpcfg apply called once, last; service users log in', async (t) => {
  const config = await targetConfig({ url: s3.url, endpoint: s3.endpoint });
  const r = await target.cli(['restore', '--latest', '--identity', source.identityFile, '--yes'], { config, env: ngcpcfg.env(s3.env) });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /tables verified: \d+/);
  t.regex(r.stdout, /service users: +(\d+) of \1 log in/);
  const id = /restored snapshot (\S+)/.exec(r.stdout)![1]!;

  // Every backed-up file equal to the original in content and mode.
  const { GetObjectCommand } = await import("@aws-sdk/client-s3");
  const got = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `${s3.prefix ? s3.prefix + "/" : ""}snapshots/spce/${id}/manifest.json` }));
  const manifest = JSON.parse(await got.Body!.transformToString()) as Manifest;
  t.is(manifest.id, id);
  const entries = (await readdir(path.join(source.root, 'etc/ngcp-config'), { recursive: true })).map((p) => path.join('etc/ngcp-config', String(p)));
  for (const rel of [...entries, 'etc/mysql/debian.cnf', 'etc/mysql/sipwise.cnf', 'etc/ngcp-config/constants.yml']) {
    const a = await stat(path.join(source.root, rel));
    const b = await stat(path.join(target.root, rel));
    t.is(b.mode, a.mode, `${rel} mode`);
    if (a.isFile()) t.true((await readFile(path.join(source.root, rel))).equals(await readFile(path.join(target.root, rel))), `${rel} content`);
  }

  // apply: exactly once, with the message, after files and databases were restored.
  const calls = await ngcpcfg.calls();
  t.is(calls.length, 1);
  t.deepEqual(calls[0]!.args, ['apply', `restored the system from backup ${id}`]);
  const constants = await readFile(path.join(source.root, 'etc/ngcp-config/constants.yml'));
  t.is(calls[0]!.fileSha256, createHash('sha256').update(constants).digest('hex'), 'files were restored before apply');
  t.is(calls[0]!.cdrRows, '3000', 'databases were restored before apply');

  // A safety snapshot of the fresh node was taken first.
  t.regex(r.stdout, /safety snapshot: \S+-safety-/);
});

test.serial('an ngcpcfg apply that fails fails the restore (exit 17)', async (t) => {
  await ngcpcfg.fail(1);
  try {
    const config = await targetConfig({ url: `file://${source.repoDir}` });
    const r = await target.cli(['restore', fileId, '--identity', source.identityFile, '--yes', '--no-safety-snapshot'], { config, env: ngcpcfg.env() });
    t.is(r.code, ExitCode.applyFailed, r.stderr);
    t.regex(r.stderr, /ngcpcfg apply failed \(exit code 1\).*template error/);
  } finally {
    await ngcpcfg.fail(0);
  }
});

test.serial('a selective restore (--table) reloads one table and does not run apply', async (t) => {
  const db = await connect({ socket: target.server.socket, user: 'root', describe: 'check' });
  await db.query('DELETE FROM accounting.cdr WHERE id % 2 = 0');
  await db.close();
  const calls = (await ngcpcfg.calls()).length;
  const config = await targetConfig({ url: `file://${source.repoDir}` });
  const r = await target.cli(['restore', fileId, '--identity', source.identityFile, '--yes', '--no-safety-snapshot', '--table', 'accounting.cdr'], { config, env: ngcpcfg.env() });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /tables verified: 1 /);
  t.is((await ngcpcfg.calls()).length, calls, 'no apply');
  const db2 = await connect({ socket: target.server.socket, user: 'root', describe: 'check' });
  const [row] = await db2.query<{ n: string }>('SELECT COUNT(*) AS n FROM accounting.cdr');
  await db2.close();
  t.is(Number(row!.n), 3000);
});

test.serial('every table loaded without its secondary keys (restore.defer_keys_above_mib: 0): keys built while the figures are checked, tables equal the source', async (t) => {
  const config = await targetConfig({ url: `file://${source.repoDir}` }, undefined, { defer_keys_above_mib: 0 });
  const r = await target.cli(['restore', fileId, '--identity', source.identityFile, '--yes', '--no-safety-snapshot', '--only', 'databases'], { config, env: ngcpcfg.env() });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /tables verified: \d+ /);
  const deferred = Number(/"deferred_keys":(\d+)/.exec((await readFile(sandboxService(target.root).log_file!, 'utf8')).split('\n').filter((l) => l.includes('secondary keys built')).at(-1) ?? '')?.[1]);
  t.true(deferred >= 10, `keys of ${deferred} tables were deferred`);
  const definitions = async (socket: string): Promise<string[]> => {
    const db = await connect({ socket, user: 'root', describe: 'check' });
    try {
      const tables = await db.query<{ s: string; n: string }>(
        "SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN ('accounting', 'billing', 'provisioning', 'kamailio') ORDER BY 1, 2",
      );
      const out: string[] = [];
      for (const { s, n } of tables) {
        const [row] = await db.query<Record<string, string>>(`SHOW CREATE TABLE \`${s}\`.\`${n}\``);
        out.push(row!['Create Table']!.replace(/ AUTO_INCREMENT=\d+/, ''));
      }
      return out;
    } finally {
      await db.close();
    }
  };
  t.deepEqual(await definitions(target.server.socket), await definitions(source.server.socket), 'every table has its keys back');
});
