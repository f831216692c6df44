import test from 'ava';
import { RefusedError, UsageError } from '../../src/errors.js';
import { MANIFEST_FORMAT, type Manifest, type ManifestObject } from '../../src/format/manifest.js';
import { formatPlan, planRestore, type RestoreOptions } from '../../src/restore/plan.js';

const object = (name: string, role: ManifestObject['role'], extra: Partial<ManifestObject> = {}): ManifestObject => ({ name, role, size: 100, sha256: 'x', rawSize: 1000, ...extra });

const manifest: Manifest = {
  format: MANIFEST_FORMAT,
  id: '20261121T023000Z-nightly-3f9a',
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
  databases: ['accounting', 'provisioning'],
  summary: { tables: 2, rows: 3, rawBytes: 1, storedBytes: 1, lockMs: 1, durationMs: 1 },
  objects: [
    object('details.json.age', 'details'),
    object('files.tar.zst.age', 'files'),
    object('grants.sql.zst.age', 'grants'),
    object('db/accounting/schema.sql.zst.age', 'schema', { database: 'accounting' }),
    object('db/accounting/objects.sql.zst.age', 'objects', { database: 'accounting' }),
    object('db/accounting/cdr.0001.sql.zst.age', 'data', { database: 'accounting', table: 'cdr', chunk: 1 }),
    object('db/accounting/cdr.0002.sql.zst.age', 'data', { database: 'accounting', table: 'cdr', chunk: 2 }),
    object('db/accounting/mark.0001.sql.zst.age', 'data', { database: 'accounting', table: 'mark', chunk: 1 }),
    object('db/provisioning/schema.sql.zst.age', 'schema', { database: 'provisioning' }),
    object('db/provisioning/objects.sql.zst.age', 'objects', { database: 'provisioning' }),
    object('db/provisioning/voip_subscribers.0001.sql.zst.age', 'data', { database: 'provisioning', table: 'voip_subscribers', chunk: 1 }),
  ],
};

const full: RestoreOptions = { safetySnapshot: true, noApply: false, forceApply: false, forceVersion: false };
const target = { ngcpVersion: 'mr13.5' };

test('a full restore: every object, files, databases, grants, apply', (t) => {
  const plan = planRestore(manifest, target, full);
  t.is(plan.objects.length, manifest.objects.length);
  t.true(plan.files && plan.grants && plan.apply && plan.safetySnapshot);
  t.false(plan.selective);
  t.deepEqual(plan.databases, ['accounting', 'provisioning']);
  t.is(plan.downloadBytes, 100 * manifest.objects.length);
  t.deepEqual(plan.warnings, []);
  const text = formatPlan(plan, { applyCommand: ['ngcpcfg', 'apply'], workDir: '/var/tmp' });
  t.regex(text, /restore plan for snapshot 20261121T023000Z-nightly-3f9a/);
  t.regex(text, /run ngcpcfg apply 'restored the system from backup 20261121T023000Z-nightly-3f9a'/);
  t.regex(text, /take a safety snapshot/);
});

test('another NGCP release is refused unless --force-version, which warns', (t) => {
  t.throws(() => planRestore(manifest, { ngcpVersion: 'mr14.0' }, full), { instanceOf: RefusedError, message: /NGCP mr13\.5, this node runs mr14\.0/ });
  const plan = planRestore(manifest, { ngcpVersion: 'mr14.0' }, { ...full, forceVersion: true });
  t.regex(plan.warnings.join(), /--force-version/);
});

test('--only files and --only databases', (t) => {
  const files = planRestore(manifest, target, { ...full, only: 'files' });
  t.deepEqual(files.databases, []);
  t.deepEqual(files.objects.map((o) => o.role).sort(), ['details', 'files']);
  t.false(files.apply, 'a selective restore does not apply by default');
  t.regex(files.warnings.join(), /--apply/);
  const dbs = planRestore(manifest, target, { ...full, only: 'databases', forceApply: true });
  t.false(dbs.files);
  t.false(dbs.grants, 'a selective restore leaves the accounts alone');
  t.true(dbs.apply);
});

test('--database and --table pick their objects; unknown ones are usage errors', (t) => {
  const db = planRestore(manifest, target, { ...full, database: 'provisioning' });
  t.deepEqual(db.databases, ['provisioning']);
  t.true(db.objects.every((o) => o.role === 'details' || o.database === 'provisioning'));
  const table = planRestore(manifest, target, { ...full, table: 'accounting.cdr' });
  t.deepEqual(table.table, { database: 'accounting', table: 'cdr' });
  t.deepEqual(table.objects.filter((o) => o.role === 'data').map((o) => o.name), ['db/accounting/cdr.0001.sql.zst.age', 'db/accounting/cdr.0002.sql.zst.age']);
  t.true(table.objects.some((o) => o.role === 'schema') && table.objects.some((o) => o.role === 'objects'), 'its schema and triggers');
  t.throws(() => planRestore(manifest, target, { ...full, database: 'nope' }), { instanceOf: UsageError, message: /has no database nope/ });
  t.throws(() => planRestore(manifest, target, { ...full, table: 'accounting.nope' }), { instanceOf: UsageError, message: /has no table accounting\.nope/ });
  t.throws(() => planRestore(manifest, target, { ...full, table: 'nodot' }), { instanceOf: UsageError });
  t.throws(() => planRestore(manifest, target, { ...full, database: 'accounting', table: 'accounting.cdr' }), { instanceOf: UsageError });
  t.throws(() => planRestore(manifest, target, { ...full, only: 'files', database: 'accounting' }), { instanceOf: UsageError });
});

test('--no-apply and --no-safety-snapshot', (t) => {
  const plan = planRestore(manifest, target, { ...full, noApply: true, safetySnapshot: false });
  t.false(plan.apply);
  t.false(plan.safetySnapshot);
  t.regex(formatPlan(plan, { applyCommand: ['ngcpcfg', 'apply'], workDir: '/var/tmp' }), /NO safety snapshot/);
});
