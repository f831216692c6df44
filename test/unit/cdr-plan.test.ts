import test from 'ava';
import { cdrFileDay, isInProgress, planCdrShipping, planLocalRemoval, planRepositoryPrune, selectCdrRestore } from '../../src/cdr/plan.js';
import { UsageError } from '../../src/errors.js';
import type { CdrRecordEntry, CdrTreeFile } from '../../src/format/cdr-index.js';

const f = (p: string, extra: Partial<CdrTreeFile> = {}): CdrTreeFile => ({ path: p, size: 10, mtimeMs: 1000, mode: 0o644, uid: 0, gid: 0, ...extra });
const rec = (p: string, size = 10): CdrRecordEntry => ({ path: p, size, mtimeMs: 1000, mode: 0o644, uid: 0, gid: 0, md5Ok: true, key: `cdr/x/${p}.zst.age`, storedSize: 1, sha256: 'x', shippedAt: '' });

test('planner: in-progress skipped, recorded files done, damaged apart, changed files flagged', (t) => {
  const record = new Map([['a.cdr', rec('a.cdr')], ['c.cdr', rec('c.cdr', 99)]]);
  const plan = planCdrShipping([f('a.cdr'), f('b.cdr'), f('c.cdr'), f('d.cdr.12345'), f('e.cdr', { md5Ok: false })], record);
  t.deepEqual(plan.ship.map((x) => x.path), ['b.cdr']);
  t.deepEqual(plan.alreadyShipped.map((x) => x.path), ['a.cdr']);
  t.deepEqual(plan.skipInProgress.map((x) => x.path), ['d.cdr.12345']);
  t.deepEqual(plan.damaged.map((x) => x.path), ['e.cdr']);
  t.deepEqual(plan.changed.map((x) => x.file.path), ['c.cdr']);
  const now = new Date('2024-08-01T00:00:00Z');
  const old = Date.parse('2024-06-01T00:00:00Z');
  const removal = planLocalRemoval(
    [f('system/202406/01/s_007_20240601000000_0000000001.cdr', { mtimeMs: old }), f('system/202406/01/s_007_20240601000000_0000000002.cdr', { mtimeMs: old }), f('system/202406/01/s_007_20240601000000_0000000003.cdr.77', { mtimeMs: old })],
    new Map([
      ['system/202406/01/s_007_20240601000000_0000000001.cdr', { ...rec('system/202406/01/s_007_20240601000000_0000000001.cdr'), mtimeMs: old }],
      ['system/202406/01/s_007_20240601000000_0000000002.cdr', { ...rec('system/202406/01/s_007_20240601000000_0000000002.cdr'), mtimeMs: old, md5Ok: false }],
    ]),
    30,
    now,
  );
  t.deepEqual(removal.map((r) => r.file.path), ['system/202406/01/s_007_20240601000000_0000000001.cdr'], 'only recorded, good, old, complete files');
  t.deepEqual(planLocalRemoval([], new Map(), undefined, now), []);
});

test('the day of a file: from its name, else its directories', (t) => {
  t.is(cdrFileDay('system/202406/30/sipwise_007_20240630102501_0000000042.cdr'), '2024-06-30');
  t.is(cdrFileDay('resellers/acme/202406/01/odd-name.cdr'), '2024-06-01');
  t.is(cdrFileDay('loose.cdr'), undefined);
  t.true(isInProgress('system/202406/30/x.cdr.4711'));
  t.false(isInProgress('system/202406/30/x.cdr'));
});

test('repository retention: objects whose export day is older than the retention, damaged ones too, pruned ones never again', (t) => {
  const now = new Date('2030-06-15T00:00:00Z');
  const old = { ...rec('system/202401/10/s_007_20240110000000_0000000001.cdr') };
  const recent = { ...rec('system/202606/10/s_007_20260610000000_0000000002.cdr') };
  const damaged = { ...rec('system/202402/10/s_007_20240210000000_0000000003.cdr'), md5Ok: false };
  const gone = { ...rec('system/202301/10/s_007_20230110000000_0000000004.cdr'), prunedAt: '2029-01-01T00:00:00Z' };
  const record = new Map([old, recent, damaged, gone].map((e) => [e.path, e]));
  t.deepEqual(planRepositoryPrune(record, 5, now).map((e) => e.path).sort(), [old.path, damaged.path].sort());
  t.deepEqual(planRepositoryPrune(record, undefined, now), [], 'no retention: kept for ever');
});

test('restore selection: good, not pruned, in the day range; dates are checked', (t) => {
  const a = rec('system/202406/01/s_007_20240601000000_0000000001.cdr');
  const b = rec('system/202406/05/s_007_20240605000000_0000000002.cdr');
  const c = { ...rec('system/202406/07/s_007_20240607000000_0000000003.cdr'), md5Ok: false };
  const d = { ...rec('system/202406/09/s_007_20240609000000_0000000004.cdr'), prunedAt: '2030-01-01T00:00:00Z' };
  t.deepEqual(selectCdrRestore([b, a, c, d]).map((e) => e.path), [a.path, b.path]);
  t.deepEqual(selectCdrRestore([a, b], '2024-06-02').map((e) => e.path), [b.path]);
  t.deepEqual(selectCdrRestore([a, b], undefined, '2024-06-01').map((e) => e.path), [a.path]);
  t.throws(() => selectCdrRestore([], '2024-13-01'), { instanceOf: UsageError, message: /--from must be a date/ });
  t.throws(() => selectCdrRestore([], '2024-06-05', '2024-06-01'), { instanceOf: UsageError, message: /is after --to/ });
});
