import test from 'ava';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IntegrityError, UsageError } from '../../src/errors.js';
import { DETAILS_FORMAT, type SnapshotDetails } from '../../src/format/details.js';
import { MANIFEST_FORMAT, type Manifest, type ManifestObject } from '../../src/format/manifest.js';
import { parseRestoreState, RESTORE_STATE_FORMAT, type RestoreState } from '../../src/format/restore-state.js';
import { parseFlags } from '../../src/cli/args.js';
import { checkCoverage } from '../../src/restore/coverage.js';
import { contentCheck, dataHeadProblem, objectsProblem, schemaProblem } from '../../src/restore/contents.js';
import { formatPlan, planRestore, planTarget, type RestoreOptions, type TargetState } from '../../src/restore/plan.js';
import { rollbackCommand, shellQuote } from '../../src/restore/rollback.js';
import { renderMetrics } from '../../src/service/metrics.js';

const object = (name: string, role: ManifestObject['role'], extra: Partial<ManifestObject> = {}): ManifestObject => ({ name, role, size: 100, sha256: 'x', rawSize: 1000, ...extra });
const ID = '20261121T023000Z-nightly-3f9a';

const manifest: Manifest = {
  format: MANIFEST_FORMAT,
  id: ID,
  node: 'spce',
  kind: 'nightly',
  note: null,
  startedAt: '2026-11-21T02:30:00.000Z',
  finishedAt: '2026-11-21T02:31:00.000Z',
  tool: { name: 'ngcp-backup', version: '0.1.0' },
  ngcpVersion: 'mr13.5',
  mariadbVersion: '10.11',
  recipients: [],
  compression: 'zstd',
  encryption: 'age',
  databases: ['accounting'],
  summary: { tables: 2, rows: 3, rawBytes: 1, storedBytes: 1, lockMs: 1, durationMs: 1 },
  objects: [
    object('details.json.age', 'details'),
    object('files.tar.zst.age', 'files'),
    object('grants.sql.zst.age', 'grants'),
    object('db/accounting/schema.sql.zst.age', 'schema', { database: 'accounting' }),
    object('db/accounting/objects.sql.zst.age', 'objects', { database: 'accounting' }),
    object('db/accounting/cdr.0001.sql.zst.age', 'data', { database: 'accounting', table: 'cdr', chunk: 1 }),
    object('db/accounting/cdr.0002.sql.zst.age', 'data', { database: 'accounting', table: 'cdr', chunk: 2 }),
    object('db/accounting/cdr_202404.0001.sql.zst.age', 'data', { database: 'accounting', table: 'cdr_202404', chunk: 1 }),
  ],
};

const details: SnapshotDetails = {
  format: DETAILS_FORMAT,
  id: ID,
  node: 'spce',
  ngcpVersion: 'mr13.5',
  mariadbVersion: '10.11',
  binlog: null,
  lockMs: 1,
  grants: ['sipwise@localhost', 'kamailio@localhost'],
  files: [
    { path: '/etc/ngcp-config', type: 'directory', mode: 0o755, uid: 0, gid: 0, user: 'root', group: 'root', size: 0, mtime: '' },
    { path: '/etc/ngcp-config/config.yml', type: 'file', mode: 0o644, uid: 0, gid: 0, user: 'root', group: 'root', size: 1, mtime: '' },
    { path: '/etc/ngcp-config/network.yml', type: 'file', mode: 0o644, uid: 0, gid: 0, user: 'root', group: 'root', size: 1, mtime: '' },
    { path: '/etc/mysql/debian.cnf', type: 'file', mode: 0o600, uid: 0, gid: 0, user: 'root', group: 'root', size: 1, mtime: '' },
  ],
  databases: [
    {
      name: 'accounting',
      charset: 'utf8mb4',
      collation: 'utf8mb4_general_ci',
      objects: { views: 0, routines: 0, triggers: 0, events: 0 },
      tables: [
        {
          name: 'cdr',
          kind: 'table',
          engine: 'InnoDB',
          hasData: true,
          rows: 3,
          checksum: '1',
          chunks: [
            { name: 'db/accounting/cdr.0001.sql.zst.age', range: 'id < 10', rows: 2, checksum: '1' },
            { name: 'db/accounting/cdr.0002.sql.zst.age', range: 'id >= 10', rows: 1, checksum: '0' },
          ],
        },
        { name: 'cdr_202404', kind: 'table', engine: 'InnoDB', hasData: true, rows: 5, checksum: '2', chunks: [{ name: 'db/accounting/cdr_202404.0001.sql.zst.age', range: null, rows: 5, checksum: '2' }] },
        { name: 'v', kind: 'view', engine: null, hasData: false },
        { name: 'seq', kind: 'sequence', engine: null, hasData: false },
      ],
    },
  ],
};

const full: RestoreOptions = { safetySnapshot: true, noApply: false, forceApply: false, forceVersion: false };
const whole = { databases: ['accounting'], grants: true };
const targetState: TargetState = { root: '/', server: 'MariaDB at socket /run/mysqld/mysqld.sock as root', databases: ['accounting', 'billing'], hasNetworkYml: true, excluded: [] };

test('coverage: the manifest as the details describe it passes', (t) => {
  t.notThrows(() => checkCoverage(manifest, details, whole));
});

test('coverage: a data object whose entry was removed is refused, naming the table', (t) => {
  const m = { ...manifest, objects: manifest.objects.filter((o) => o.name !== 'db/accounting/cdr.0002.sql.zst.age') };
  t.throws(() => checkCoverage(m, details, whole), { instanceOf: IntegrityError, message: /no data object db\/accounting\/cdr\.0002\.sql\.zst\.age for table accounting\.cdr .*refused before anything was changed/ });
  // Only the selected table counts in a one-table restore.
  t.notThrows(() => checkCoverage(m, details, { databases: ['accounting'], table: { database: 'accounting', table: 'cdr_202404' }, grants: false }));
});

test('coverage: an entry renamed to another table, an extra object, foreign details, a missing schema', (t) => {
  const moved = { ...manifest, objects: manifest.objects.map((o) => (o.name === 'db/accounting/cdr.0001.sql.zst.age' ? { ...o, table: 'cdr_202404' } : o)) };
  t.throws(() => checkCoverage(moved, details, whole), { message: /entry of object db\/accounting\/cdr\.0001\.sql\.zst\.age names table accounting\.cdr_202404, but the details list it as rows of table accounting\.cdr/ });
  const extra = { ...manifest, objects: [...manifest.objects, object('db/accounting/x.0001.sql.zst.age', 'data', { database: 'accounting', table: 'x', chunk: 1 })] };
  t.throws(() => checkCoverage(extra, details, whole), { message: /rows of table accounting\.x, which the details do not list/ });
  t.throws(() => checkCoverage(manifest, { ...details, id: 'other' }, whole), { message: /details object belongs to snapshot other/ });
  const noSchema = { ...manifest, objects: manifest.objects.filter((o) => o.role !== 'schema') };
  t.throws(() => checkCoverage(noSchema, details, whole), { message: /no schema object for database accounting/ });
});

test('contents: a data file names its table in its first lines', (t) => {
  const head = "-- data of `accounting`.`cdr_202404` where `id` >= 1\nSET NAMES utf8mb4;\nINSERT INTO `cdr_202404` (`id`) VALUES\n(1),\n";
  t.is(dataHeadProblem(head, 'accounting', 'cdr_202404'), undefined);
  t.regex(dataHeadProblem(head, 'accounting', 'cdr')!, /holds the rows of table accounting\.cdr_202404, but its manifest entry names table accounting\.cdr/);
  // An empty table's file has no INSERT; a comment of the right table with another INSERT is refused.
  t.is(dataHeadProblem('-- data of `a``b`.`t`\nSET NAMES utf8mb4;\n', 'a`b', 't'), undefined);
  t.regex(dataHeadProblem('-- data of `a`.`t`\nINSERT INTO `u` (`x`) VALUES\n', 'a', 't')!, /inserts into table u/);
  t.regex(dataHeadProblem('CREATE TABLE x;\n', 'a', 't')!, /does not start like a data file/);
});

test('contents: the sink checks while it reads, and fails on a swapped object', async (t) => {
  const o = manifest.objects.find((x) => x.table === 'cdr')!;
  const body = '-- data of `accounting`.`cdr_202404`\nSET NAMES utf8mb4;\nINSERT INTO `cdr_202404` (`id`) VALUES\n' + '(1),\n'.repeat(100_000) + '(2);\n';
  await t.throwsAsync(pipeline(Readable.from([Buffer.from(body)]), contentCheck(o, details, `object ${o.name}`)), { instanceOf: IntegrityError, message: /^object db\/accounting\/cdr\.0001\.sql\.zst\.age holds the rows of table accounting\.cdr_202404/ });
  const right = body.replaceAll('cdr_202404', 'cdr');
  await t.notThrowsAsync(pipeline(Readable.from([Buffer.from(right)]), contentCheck(o, details, `object ${o.name}`)));
});

test('contents: a schema creates the tables and sequences the details list; objects stay in their database', (t) => {
  const schema = (db: string, extra = '') =>
    `-- schema of \`${db}\`\nSET NAMES utf8mb4;\nDELIMITER ;;\nCREATE DATABASE IF NOT EXISTS \`${db}\`\n;;\nUSE \`${db}\`\n;;\nCREATE TABLE \`cdr\` (id int)\n;;\nCREATE TABLE \`cdr_202404\` (id int)\n;;\nCREATE SEQUENCE \`seq\` start with 1\n;;\n${extra}DELIMITER ;\n`;
  t.is(schemaProblem(schema('accounting'), 'accounting', details), undefined);
  t.regex(schemaProblem(schema('billing'), 'accounting', details)!, /creates database billing, but its manifest entry names the schema of database accounting/);
  t.regex(schemaProblem(schema('accounting', 'CREATE TABLE `evil` (x int)\n;;\n'), 'accounting', details)!, /creates tables evil/);
  t.regex(schemaProblem(schema('accounting').replace('CREATE TABLE `cdr` (id int)\n;;\n', ''), 'accounting', details)!, /does not create the tables cdr/);
  t.is(objectsProblem('DELIMITER ;;\nUSE `accounting`\n;;\nCREATE VIEW v AS SELECT 1\n;;\n', 'accounting'), undefined);
  t.regex(objectsProblem('DELIMITER ;;\nUSE `billing`\n;;\n', 'accounting')!, /works in database billing/);
});

test('plan: what is replaced, on which server; network.yml kept unless --restore-network', (t) => {
  const plan = planTarget(planRestore(manifest, { ngcpVersion: 'mr13.5' }, full), details, { ...targetState, databases: ['billing'] }, {});
  const r = plan.replaces!;
  t.is(r.network, 'kept');
  t.deepEqual(r.files, ['/etc/mysql/debian.cnf']);
  t.is(r.configEntries, 3);
  t.deepEqual(r.databases, [{ name: 'accounting', exists: false }]);
  t.deepEqual(r.accounts, ['sipwise@localhost', 'kamailio@localhost']);
  const text = formatPlan(plan, { applyCommand: ['ngcpcfg', 'apply'], workDir: '/var/tmp' });
  t.regex(text, /target: node root \/; MariaDB at socket \/run\/mysqld\/mysqld\.sock as root/);
  t.regex(text, /download 8 objects \(0\.0 MiB\) into \/var\/tmp/);
  t.regex(text, /network\.yml KEPT as this node has it \(--restore-network takes the snapshot's\)/);
  t.regex(text, /create databases this node does not have: accounting/);
  t.regex(text, /replace accounts and grants \(CREATE OR REPLACE USER\): 2 account\(s\): sipwise@localhost/);
  t.regex(formatPlan(plan, { applyCommand: ['ngcpcfg', 'apply'], workDir: '/var/tmp', dryRun: true }), /keeping nothing: a dry run needs no room in \/var\/tmp/);
  const network = planTarget(planRestore(manifest, { ngcpVersion: 'mr13.5' }, full), details, targetState, { restoreNetwork: true });
  t.is(network.replaces!.network, 'restored');
  t.regex(formatPlan(network, { applyCommand: ['ngcpcfg', 'apply'], workDir: '/var/tmp' }), /network\.yml REPLACED by the snapshot's/);
  const excluded = planTarget(planRestore(manifest, { ngcpVersion: 'mr13.5' }, full), details, { ...targetState, excluded: ['accounting'] }, {});
  t.regex(excluded.warnings.join(), /accounting will be replaced but are excluded from this node's backups/);
});

test('plan on a half-restored node: the rollback drops what the restore created; another restore keeps the rollback point', (t) => {
  const half = { description: 'restore of X, interrupted', safetySnapshot: ID, rollbackCommand: `ngcp-backup restore ${ID} --identity /root/id --yes --no-safety-snapshot`, createdDatabases: ['extra', 'accounting'] };
  const rollback = planTarget(planRestore(manifest, { ngcpVersion: 'mr13.5' }, { ...full, safetySnapshot: false }), details, { ...targetState, halfRestored: half }, {});
  t.true(rollback.replaces!.rollback);
  t.deepEqual(rollback.replaces!.dropDatabases, ['extra'], 'what the snapshot has is reloaded, not dropped');
  t.regex(formatPlan(rollback, { applyCommand: ['ngcpcfg', 'apply'], workDir: '/w' }), /drop databases the unfinished restore created, which this snapshot does not have: extra/);
  const other = planTarget(planRestore(manifest, { ngcpVersion: 'mr13.5' }, full), details, { ...targetState, halfRestored: { ...half, safetySnapshot: '20261120T000000Z-safety-0000' } }, {});
  t.false(other.safetySnapshot, 'no safety snapshot of a half-restored node');
  t.deepEqual(other.replaces!.dropDatabases, []);
  t.regex(formatPlan(other, { applyCommand: ['ngcpcfg', 'apply'], workDir: '/w' }), /no new safety snapshot: this node is half-restored, the rollback point stays 20261120T000000Z-safety-0000/);
  t.regex(other.warnings.join(), /this node is half-restored .*to roll back instead: ngcp-backup restore/);
});

test('the rollback command carries what it needs, quoted for the shell', (t) => {
  const base = { safetyId: 'S', safetyNode: 'new', restoredNodes: ['new'], identityFile: '/root/id.txt', forceVersion: false };
  t.is(rollbackCommand(base), 'ngcp-backup restore S --identity /root/id.txt --yes --no-safety-snapshot');
  t.is(
    rollbackCommand({ ...base, restoredNodes: ['old'], configFile: "/etc/my conf/it's.yml", forceVersion: true }),
    `ngcp-backup restore S --identity /root/id.txt --yes --no-safety-snapshot --node new --config '/etc/my conf/it'\\''s.yml' --force-version`,
  );
  t.is(shellQuote('a b'), "'a b'");
});

test('a flag without its value says so', (t) => {
  const options = { identity: { type: 'string', short: 'i' }, yes: { type: 'boolean' } } as const;
  t.throws(() => parseFlags('restore', ['--identity', '--yes'], options), { instanceOf: UsageError, message: /^ngcp-backup restore: --identity needs a value/ });
  t.throws(() => parseFlags('restore', ['--identity'], options), { message: /--identity needs a value/ });
  t.throws(() => parseFlags('restore', ['-i', '--yes'], options), { message: /--identity needs a value/ });
  t.throws(() => parseFlags('restore', ['--nope'], options), { message: /Unknown option '--nope'/ });
});

test('restore state: a damaged file still says half-restored; the metric names the rollback', (t) => {
  const damaged = parseRestoreState('{ not json');
  t.is(damaged.format, RESTORE_STATE_FORMAT);
  t.regex(damaged.failed!, /unreadable/);
  const state: RestoreState = { ...damaged, snapshot: { id: ID, node: 'spce' }, safetySnapshot: { id: 'S', node: 'spce' }, rollbackCommand: 'ngcp-backup restore S --yes', failed: null };
  t.deepEqual(parseRestoreState(JSON.stringify(state)), state);
  t.regex(renderMetrics({}, 'spce', state), /\nngcp_backup_restore_incomplete\{node="spce",snapshot="[^"]+",safety_snapshot="S",rollback="ngcp-backup restore S --yes"\} 1\n/);
  t.regex(renderMetrics({}, 'spce'), /\nngcp_backup_restore_incomplete\{node="spce"\} 0\n/);
});
