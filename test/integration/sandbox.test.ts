import test from 'ava';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import YAML from 'yaml';
import { startMariadbInstance, type MariadbInstance } from '../../testkit/scratch-mariadb.js';
import {
  CDR_EXPORT_DIR,
  NGCP_DATABASES,
  cdrFileMd5Ok,
  createSandboxNode,
  type SandboxNode,
} from '../../testkit/node.js';

const execFileAsync = promisify(execFile);

interface Fixture {
  instance: MariadbInstance;
  node: SandboxNode;
  root: string;
}

const fixtures: Fixture[] = [];
let a: Fixture;
let b: Fixture;

async function rows<T>(socket: string, sql: string): Promise<T[]> {
  const conn = await mysql.createConnection({ socketPath: socket, user: 'root', password: '' });
  try {
    const [result] = await conn.query(sql);
    return result as T[];
  } finally {
    await conn.end();
  }
}

async function count(socket: string, table: string): Promise<number> {
  const [r] = await rows<{ n: number }>(socket, `SELECT COUNT(*) AS n FROM ${table}`);
  return Number(r!.n);
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

async function build(options: { binlog: boolean; constants?: string; debianCnf?: string }): Promise<Fixture> {
  const instance = await startMariadbInstance({ binlog: options.binlog });
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'ngcp-sandbox-root-'));
  const fixture = { instance, root } as Fixture;
  fixtures.push(fixture);
  fixture.node = await createSandboxNode({
    root,
    mysql: { socket: instance.socket },
    cdrRows: 2000,
    secrets: { constants: options.constants, debianCnf: options.debianCnf },
  });
  return fixture;
}

test.before(async () => {
  // Two instances and two nodes at once, as parallel ava workers would.
  [a, b] = await Promise.all([
    build({ binlog: true }),
    build({ binlog: false, constants: 'fresh-install', debianCnf: 'fresh-install' }),
  ]);
});

test.after.always(async () => {
  await Promise.all(
    fixtures.map(async (f) => {
      await f.instance?.stop();
      await fs.rm(f.root, { recursive: true, force: true });
    }),
  );
});

test('the instance answers over the socket and over 127.0.0.1 as root, with binlog as asked', async (t) => {
  const tcp = await mysql.createConnection({ host: a.instance.host, port: a.instance.port, user: 'root', password: '' });
  const [[r]] = (await tcp.query('SELECT @@log_bin AS log_bin, @@binlog_format AS fmt, @@local_infile AS li')) as unknown as [
    Array<{ log_bin: number; fmt: string; li: number }>,
  ];
  await tcp.end();
  t.is(Number(r!.log_bin), 1);
  t.is(r!.fmt, 'ROW');
  t.is(Number(r!.li), 1);
  const [s] = await rows<{ log_bin: number }>(b.instance.socket, 'SELECT @@log_bin AS log_bin');
  t.is(Number(s!.log_bin), 0);
  t.not(a.instance.port, b.instance.port);
});

test('all 13 NGCP databases exist', async (t) => {
  const dbs = await rows<{ SCHEMA_NAME: string }>(a.instance.socket, 'SELECT SCHEMA_NAME FROM information_schema.SCHEMATA');
  const names = new Set(dbs.map((d) => d.SCHEMA_NAME));
  t.is(NGCP_DATABASES.length, 13);
  for (const db of NGCP_DATABASES) t.true(names.has(db), db);
  t.false([...names].some((n) => n.startsWith('ngcp_sandbox_gen')), 'the generator scratch database is dropped');
});

test('row counts scale from cdrRows', async (t) => {
  const s = a.instance.socket;
  const sc = a.node.scale;
  t.is(await count(s, 'accounting.cdr'), 2000);
  t.is(await count(s, 'accounting.cdr_202404'), sc.archive);
  t.is(await count(s, 'kamailio.acc'), sc.acc);
  t.is(await count(s, 'kamailio.acc_backup'), sc.accBackup);
  t.is(await count(s, 'kamailio.acc_trash'), sc.accTrash);
  t.is(await count(s, 'provisioning.voip_subscribers'), sc.subscribers);
  // Filled by the provisioning triggers, not by the generator.
  t.is(await count(s, 'kamailio.subscriber'), sc.subscribers);
  t.is(await count(s, 'kamailio.usr_preferences'), sc.subscribers * 2);
  t.true(sc.acc >= 5 && sc.archive >= 5);
  const [keys] = await rows<{ n: number }>(
    s,
    "SELECT COUNT(DISTINCT INDEX_NAME) AS n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'accounting' AND TABLE_NAME = 'cdr' AND INDEX_NAME <> 'PRIMARY'",
  );
  t.is(Number(keys!.n), 14);
  const [cols] = await rows<{ n: number }>(
    s,
    "SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'accounting' AND TABLE_NAME = 'cdr'",
  );
  t.true(Number(cols!.n) >= 75);
  const [nulls] = await rows<{ n: number; total: number }>(
    s,
    'SELECT SUM(source_external_subscriber_id IS NULL) AS n, COUNT(*) AS total FROM accounting.cdr',
  );
  t.true(Number(nulls!.n) > 0 && Number(nulls!.n) < Number(nulls!.total));
});

test('triggers, views, routines, events, sequence and partitions exist', async (t) => {
  const s = a.instance.socket;
  const [tr] = await rows<{ n: number }>(s, "SELECT COUNT(*) AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN ('accounting','provisioning')");
  t.true(Number(tr!.n) >= 10);
  const [cross] = await rows<{ n: number }>(
    s,
    "SELECT COUNT(*) AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'provisioning' AND ACTION_STATEMENT LIKE '%kamailio.%'",
  );
  t.true(Number(cross!.n) >= 4);
  const [views] = await rows<{ n: number }>(s, "SELECT COUNT(*) AS n FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'billing'");
  t.is(Number(views!.n), 5);
  const [routines] = await rows<{ n: number }>(s, "SELECT COUNT(*) AS n FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'billing'");
  t.is(Number(routines!.n), 4);
  const [ev] = await rows<{ STATUS: string }>(s, "SELECT STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'billing'");
  t.is(ev!.STATUS, 'DISABLED');
  const [seq] = await rows<{ TABLE_TYPE: string }>(
    s,
    "SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'stats' AND TABLE_NAME = 'report_seq'",
  );
  t.is(seq!.TABLE_TYPE, 'SEQUENCE');
  const parts = await rows<{ PARTITION_NAME: string; TABLE_ROWS: number }>(
    s,
    "SELECT PARTITION_NAME, TABLE_ROWS FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = 'accounting' AND TABLE_NAME = 'cdr_cash_balance_data'",
  );
  t.true(parts.length >= 3);
  const [used] = await rows<{ n: number }>(
    s,
    'SELECT COUNT(DISTINCT FLOOR(cdr_start_time) DIV 2592000) AS n FROM accounting.cdr_cash_balance_data',
  );
  t.true(Number(used!.n) >= 2, 'rows land in more than one partition');
  // The view on a view and a function that reads it work.
  const [fn] = await rows<{ name: string }>(s, 'SELECT billing.contract_display_name(4) AS name');
  t.truthy(fn!.name);
  const [zero] = await rows<{ n: number }>(
    s,
    "SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'billing' AND COLUMN_DEFAULT LIKE '%0000-00-00%'",
  );
  t.true(Number(zero!.n) >= 2);
});

test('the MERGE table returns the union of its MyISAM tables', async (t) => {
  const s = a.instance.socket;
  const parts = (await count(s, 'syslog.se1')) + (await count(s, 'syslog.se2')) + (await count(s, 'syslog.se3'));
  t.true(parts > 0);
  t.is(await count(s, 'syslog.SystemEvents'), parts);
  const [engines] = await rows<{ e: string }>(
    s,
    "SELECT GROUP_CONCAT(DISTINCT ENGINE ORDER BY ENGINE) AS e FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'syslog'",
  );
  t.is(engines!.e, 'MRG_MyISAM,MyISAM');
});

test('blobs and tricky values are there', async (t) => {
  const s = a.instance.socket;
  const [vm] = await rows<{ nulls: number; empties: number; big: number }>(
    s,
    "SELECT SUM(recording IS NULL) AS nulls, SUM(recording = '') AS empties, SUM(LENGTH(recording) > 65536) AS big FROM kamailio.voicemail_spool",
  );
  t.true(Number(vm!.nulls) >= 1 && Number(vm!.empties) >= 1 && Number(vm!.big) >= 1);
  const [acc] = await rows<{ nul: number; nl: number; mb4: number; bs: number }>(
    s,
    "SELECT SUM(LOCATE(CHAR(0), src_leg) > 0) AS nul, SUM(LOCATE('\\n', src_leg) > 0) AS nl, SUM(src_leg LIKE '%😀%') AS mb4, SUM(LOCATE('\\\\', src_leg) > 0) AS bs FROM kamailio.acc_backup",
  );
  t.true(Number(acc!.nul) > 0 && Number(acc!.nl) > 0 && Number(acc!.mb4) > 0 && Number(acc!.bs) > 0);
  const [fw] = await rows<{ m: number }>(s, 'SELECT MAX(LENGTH(data)) AS m FROM provisioning.autoprov_firmwares_data');
  t.true(Number(fw!.m) > 1_000_000);
  const [latin] = await rows<{ city: string }>(s, 'SELECT city FROM stats.legacy_latin1 WHERE id = 1');
  t.is(latin!.city, 'Zürich');
  const [ver] = await rows<{ r: string }>(s, 'SELECT DISTINCT `release` AS r FROM ngcp.db_schema');
  t.is(ver!.r, 'mr13.5.1');
});

test('debian.cnf credentials log in with all privileges', async (t) => {
  const text = await fs.readFile(path.join(a.root, 'etc/mysql/debian.cnf'), 'utf8');
  const client = text.split('[mysql_upgrade]')[0]!;
  const get = (k: string): string => new RegExp(`^${k}\\s*=\\s*(.*)$`, 'm').exec(client)![1]!.trim();
  t.is(get('user'), 'debian-sys-maint');
  t.is(get('password'), a.node.debianCnfPassword);
  const conn = await mysql.createConnection({ socketPath: get('socket'), user: get('user'), password: get('password') });
  const [grants] = (await conn.query('SHOW GRANTS')) as unknown as [Array<Record<string, string>>];
  await conn.end();
  t.regex(Object.values(grants[0]!)[0]!, /ALL PRIVILEGES ON \*\.\* .*WITH GRANT OPTION/);
});

test('service users from constants.yml log in; a fresh install has other passwords', async (t) => {
  const constants = YAML.parse(await fs.readFile(path.join(a.root, 'etc/ngcp-config/constants.yml'), 'utf8')) as {
    credentials: { mysql: Record<string, { u: string; p: string }> };
  };
  const system = constants.credentials.mysql.system!;
  t.is(system.u, 'sipwise');
  const conn = await mysql.createConnection({ socketPath: a.instance.socket, user: system.u, password: system.p });
  const [[r]] = (await conn.query('SELECT COUNT(*) AS n FROM accounting.cdr')) as unknown as [Array<{ n: number }>];
  await conn.end();
  t.is(Number(r!.n), 2000);

  const kam = constants.credentials.mysql.kamailio!;
  const k = await mysql.createConnection({ socketPath: a.instance.socket, user: kam.u, password: kam.p });
  await t.throwsAsync(k.query('SELECT 1 FROM accounting.cdr LIMIT 1'));
  await k.end();

  t.is(Object.keys(constants.credentials.mysql).length, a.node.serviceUsers.length);
  for (const u of a.node.serviceUsers) {
    const other = b.node.serviceUsers.find((x) => x.user === u.user)!;
    t.not(other.password, u.password);
  }
  t.not(a.node.debianCnfPassword, b.node.debianCnfPassword);
  // The sipwise.cnf password is the one in constants.yml.
  t.is(await fs.readFile(path.join(a.root, 'etc/mysql/sipwise.cnf'), 'utf8'), `SIPWISE_DB_PASSWORD='${system.p}'\n`);
  await t.throwsAsync(mysql.createConnection({ socketPath: b.instance.socket, user: system.u, password: system.p }));
});

test('file modes and owners are those of a real node', async (t) => {
  const mysqlGid = Number((await execFileAsync('getent', ['group', 'mysql'])).stdout.split(':')[2]);
  const expect = async (p: string, mode: number, uid = 0, gid = 0): Promise<void> => {
    const st = await fs.stat(path.join(a.root, p));
    t.is(st.mode & 0o7777, mode, `${p} mode ${(st.mode & 0o7777).toString(8)}`);
    t.is(st.uid, uid, `${p} uid`);
    t.is(st.gid, gid, `${p} gid`);
  };
  await expect('etc/ngcp-config/config.yml', 0o660);
  await expect('etc/ngcp-config/constants.yml', 0o600);
  await expect('etc/mysql/debian.cnf', 0o440, 0, mysqlGid);
  await expect('etc/mysql/sipwise.cnf', 0o400);
  await expect('etc/mysql/sipwise_extra.cnf', 0o400);
  await expect('etc/mysql/grants.yml', 0o400);
  t.is((await fs.readFile(path.join(a.root, 'etc/ngcp_version'), 'utf8')).trim(), 'mr13.5.1');
  t.is((await fs.readFile(path.join(a.root, 'etc/ngcp_nodename'), 'utf8')).trim(), 'spce');
  for (const f of ['etc/default/ngcp-roles', 'etc/default/ngcp-db', 'etc/ngcp-config/network.yml', 'etc/ngcp-config/maintenance.yml', 'etc/ngcp-config/.ngcpcfg_perms']) {
    await t.notThrowsAsync(fs.access(path.join(a.root, f)), f);
  }
  const files = await walk(path.join(a.root, CDR_EXPORT_DIR));
  t.true(files.length > 5);
  for (const f of files) {
    const st = await fs.stat(f);
    t.is(st.uid, 1001, f);
    t.is(st.mode & 0o7777, 0o644, f);
  }
});

test('/etc/ngcp-config is a clean git repository with history and templates', async (t) => {
  const repo = path.join(a.root, 'etc/ngcp-config');
  const { stdout: n } = await execFileAsync('git', ['-C', repo, 'rev-list', '--count', 'HEAD']);
  t.true(Number(n.trim()) > 1);
  const { stdout: status } = await execFileAsync('git', ['-C', repo, 'status', '--porcelain']);
  t.is(status.trim(), '');
  const all = (await walk(path.join(repo, 'templates'))).map((f) => path.basename(f));
  t.true(all.some((f) => f.endsWith('.customtt.tt2')));
  t.true(all.some((f) => f.endsWith('.patchtt.tt2')));
  t.true(all.some((f) => f.endsWith('.services')));
  t.true(all.some((f) => /[^.]\.tt2$/.test(f) && !f.includes('tt.tt2')));
});

test('certificates named in config.yml exist, one outside /etc/ngcp-config', async (t) => {
  const config = YAML.parse(await fs.readFile(path.join(a.root, 'etc/ngcp-config/config.yml'), 'utf8')) as unknown;
  const found: Array<[string, string]> = [];
  const visit = (v: unknown, key: string): void => {
    if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) visit(c, key ? `${key}.${k}` : k);
    else if (typeof v === 'string' && /ssl(certfile|certkeyfile|certificate)$/.test(key)) found.push([key, v]);
  };
  visit(config, '');
  t.true(found.some(([k]) => k === 'kamailio.lb.tls.sslcertificate'));
  t.true(found.some(([k, v]) => k.endsWith('sslcertfile') && !v.startsWith('/etc/ngcp-config/')));
  for (const [, file] of found) await t.notThrowsAsync(fs.access(path.join(a.root, file)), file);
  const pem = await fs.readFile(path.join(a.root, a.node.sslFiles.myserverCrt), 'utf8');
  t.regex(pem, /BEGIN CERTIFICATE/);
});

test('the CDR export tree has complete, empty, in-progress and damaged files, and marks agree', async (t) => {
  const files = await walk(path.join(a.root, CDR_EXPORT_DIR));
  const names = files.map((f) => path.relative(path.join(a.root, CDR_EXPORT_DIR), f));
  t.true(names.some((n) => n.startsWith('system/')));
  t.true(names.some((n) => n.startsWith('resellers/')));
  for (const n of names) t.regex(n, /^(system|resellers\/[^/]+)\/\d{6}\/\d{2}\/sipwise_007_\d{14}_\d{10}\.cdr(\.\d+)?$/);
  const inProgress = files.filter((f) => /\.cdr\.\d+$/.test(f));
  t.is(inProgress.length, 1);
  const complete = files.filter((f) => f.endsWith('.cdr'));
  let damaged = 0;
  let empty = 0;
  for (const f of complete) {
    const content = await fs.readFile(f);
    if (!cdrFileMd5Ok(content)) damaged++;
    if (content.toString('utf8').startsWith('007,0000\n')) {
      empty++;
      t.true(cdrFileMd5Ok(content));
    }
    t.regex(content.toString('utf8'), /^007,\d{4}\n/);
  }
  t.true(damaged >= 1 && damaged <= 3, `damaged ${damaged}`);
  t.true(empty >= 1);
  t.false(cdrFileMd5Ok(await fs.readFile(inProgress[0]!)));

  const marks = await rows<{ collector: string; acc_id: number }>(a.instance.socket, 'SELECT collector, acc_id FROM accounting.mark');
  const systemSeqs = complete
    .filter((f) => f.includes('/system/'))
    .map((f) => Number(/_(\d{10})\.cdr$/.exec(f)![1]));
  const lastseq = marks.find((m) => m.collector === 'exporter-lastseq')!;
  t.is(Number(lastseq.acc_id), Math.max(...systemSeqs));
  t.is(Number(lastseq.acc_id), a.node.exporterMarks['exporter-lastseq']);
  t.true(marks.some((m) => /^exporter-lastseq-\d+$/.test(m.collector)));
});

test('refuses a server that already has NGCP databases', async (t) => {
  await t.throwsAsync(
    createSandboxNode({ root: a.root, mysql: { socket: a.instance.socket }, cdrRows: 10, files: false }),
    { message: /refusing.*already has NGCP databases/ },
  );
});

test('stop() removes the instance directory it created', async (t) => {
  const instance = await startMariadbInstance();
  await t.notThrowsAsync(fs.access(instance.dir));
  await instance.stop();
  await t.throwsAsync(fs.access(instance.dir));
});

test('the CDR tablespace cache gives back the same table', async (t) => {
  const instance = await startMariadbInstance();
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'ngcp-sandbox-root-'));
  const cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ngcp-sandbox-cache-'));
  try {
    const options = { root, mysql: { socket: instance.socket }, cdrRows: 3000, files: false, cache: true, cacheDir };
    const first = await createSandboxNode(options);
    t.false(first.cdrFromCache);
    const before = await rows<{ Checksum: number }>(instance.socket, 'CHECKSUM TABLE accounting.cdr, accounting.cdr_202404');
    const second = await createSandboxNode({ ...options, replace: true });
    t.true(second.cdrFromCache);
    const after = await rows<{ Checksum: number }>(instance.socket, 'CHECKSUM TABLE accounting.cdr, accounting.cdr_202404');
    t.deepEqual(after, before);
    t.is(await count(instance.socket, 'accounting.cdr'), 3000);
    const [keys] = await rows<{ n: number }>(
      instance.socket,
      "SELECT COUNT(DISTINCT INDEX_NAME) AS n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'accounting' AND TABLE_NAME = 'cdr'",
    );
    t.is(Number(keys!.n), 15);
    // The triggers on cdr are created after the import.
    const [tr] = await rows<{ n: number }>(
      instance.socket,
      "SELECT COUNT(*) AS n FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = 'accounting' AND EVENT_OBJECT_TABLE = 'cdr'",
    );
    t.is(Number(tr!.n), 4);
  } finally {
    await instance.stop();
    await fs.rm(root, { recursive: true, force: true });
    await fs.rm(cacheDir, { recursive: true, force: true });
  }
});
