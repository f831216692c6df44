import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/errors.js';
import {
  DEFAULT_POLICIES_FILE,
  isoWeek,
  loadPolicies,
  parsePolicies,
  planRetention,
  type PlanEntry,
  type PlanInput,
} from '../../src/retention/policy.js';

// The stored plans are the specification: checked by hand when written (see docs/retention.md).
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/retention/', import.meta.url));

interface Fixture {
  description: string;
  now: string;
  policies: unknown;
  snapshots: PlanInput[];
  expected: PlanEntry[];
}

const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));

test('there are stored plans', (t) => {
  t.true(fixtures.includes('year-defaults.json'));
  t.true(fixtures.length >= 2);
});

for (const name of fixtures) {
  test(`planner matches the stored plan ${name}`, (t) => {
    const f = JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Fixture;
    const policies = parsePolicies(f.policies, name);
    t.deepEqual(planRetention(f.snapshots, policies, new Date(f.now)), f.expected);
    // Input order must not matter.
    t.deepEqual(planRetention([...f.snapshots].reverse(), policies, new Date(f.now)), f.expected);
  });
}

test('the year fixture uses exactly the shipped default policies', async (t) => {
  const f = JSON.parse(readFileSync(join(FIXTURES, 'year-defaults.json'), 'utf8')) as Fixture;
  const shipped = await loadPolicies();
  t.deepEqual(shipped.kinds, parsePolicies(f.policies, 'fixture').kinds);
  t.is(shipped.source, DEFAULT_POLICIES_FILE);
  t.deepEqual(Object.keys(shipped.kinds).sort(), ['manual', 'nightly', 'pre-upgrade', 'safety']);
});

test('the year plan keeps what the defaults promise', (t) => {
  const f = JSON.parse(readFileSync(join(FIXTURES, 'year-defaults.json'), 'utf8')) as Fixture;
  const kept = f.expected.filter((e) => e.action === 'keep');
  const withReason = (r: string) => kept.filter((e) => e.reasons.includes(r)).map((e) => e.id.slice(0, 8));
  t.deepEqual(withReason('daily snapshot'), ['20261115', '20261116', '20261117', '20261118', '20261119', '20261120', '20261121']);
  t.deepEqual(withReason('weekly snapshot'), ['20261101', '20261108', '20261115', '20261121']);
  t.is(withReason('monthly snapshot').length, 12);
  t.deepEqual(withReason('yearly snapshot'), ['20251231', '20261121']);
  t.deepEqual(withReason('oldest yearly snapshot'), ['20251121']);
  t.deepEqual(withReason('newest verified snapshot'), ['20261110']);
  t.is(f.snapshots.length, 380);
  t.is(kept.length, 30);
});

const P = parsePolicies(
  {
    policies: {
      nightly: { 'keep-daily': 7, 'keep-weekly': 4, 'keep-monthly': 12, 'keep-yearly': 3 },
      'pre-upgrade': { 'keep-last': 5, 'keep-within': '90d' },
      manual: { 'keep-within': '30d' },
    },
  },
  'test',
);
const NOW = new Date('2026-11-21T12:00:00Z');
const ago = (days: number) => new Date(NOW.getTime() - days * 86_400_000).toISOString();
const actions = (plan: PlanEntry[]) => Object.fromEntries(plan.map((e) => [e.id, e.action]));

test('an empty list gives an empty plan', (t) => {
  t.deepEqual(planRetention([], P, NOW), []);
});

test('the newest snapshot is kept even when its policy would remove it', (t) => {
  const plan = planRetention([{ id: 'm1', kind: 'manual', finishedAt: ago(100) }, { id: 'm2', kind: 'manual', finishedAt: ago(200) }], P, NOW);
  t.deepEqual(actions(plan), { m2: 'remove', m1: 'keep' });
  t.deepEqual(plan.find((e) => e.id === 'm1')!.reasons, ['newest snapshot']);
});

test('the newest verified snapshot is kept; older verified ones are not', (t) => {
  const plan = planRetention(
    [
      { id: 'a', kind: 'manual', finishedAt: ago(300), verified: true },
      { id: 'b', kind: 'manual', finishedAt: ago(200), verified: true },
      { id: 'c', kind: 'manual', finishedAt: ago(100) },
    ],
    P,
    NOW,
  );
  t.deepEqual(actions(plan), { a: 'remove', b: 'keep', c: 'keep' });
  t.deepEqual(plan.find((e) => e.id === 'b')!.reasons, ['newest verified snapshot']);
});

test('pre-upgrade: the last 5 OR younger than 90 days', (t) => {
  const days = [1, 10, 20, 30, 40, 50, 60, 89, 91, 120, 400];
  const plan = planRetention(days.map((d) => ({ id: `p${d}`, kind: 'pre-upgrade', finishedAt: ago(d) })), P, NOW);
  const kept = plan.filter((e) => e.action === 'keep').map((e) => e.id);
  t.deepEqual(kept.sort(), ['p1', 'p10', 'p20', 'p30', 'p40', 'p50', 'p60', 'p89'].sort());
  // Few and old: keep-last keeps them all.
  const few = planRetention([400, 500, 600].map((d) => ({ id: `q${d}`, kind: 'pre-upgrade', finishedAt: ago(d) })), P, NOW);
  t.true(few.every((e) => e.action === 'keep' && e.reasons.includes('last snapshot')));
});

test('manual: 30 days, strictly', (t) => {
  const plan = planRetention(
    [
      { id: 'young', kind: 'manual', finishedAt: ago(29.9) },
      { id: 'edge', kind: 'manual', finishedAt: ago(30) },
      { id: 'old', kind: 'manual', finishedAt: ago(31) },
      { id: 'n', kind: 'nightly', finishedAt: ago(0.2) },
    ],
    P,
    NOW,
  );
  t.deepEqual(actions(plan), { old: 'remove', edge: 'remove', young: 'keep', n: 'keep' });
  t.deepEqual(plan.find((e) => e.id === 'young')!.reasons, ['within 30d']);
  t.regex(plan.find((e) => e.id === 'old')!.reasons[0]!, /not kept by the manual policy/);
});

test('a kind without a policy is kept, with a reason', (t) => {
  const plan = planRetention([{ id: 'x', kind: 'mystery', finishedAt: ago(1000) }, { id: 'n', kind: 'nightly', finishedAt: ago(1) }], P, NOW);
  t.deepEqual(plan[0], { id: 'x', action: 'keep', reasons: ['no policy for kind mystery: never pruned'] });
});

test('a duplicated id is a bug, not a plan', (t) => {
  t.throws(() => planRetention([{ id: 'a', kind: 'manual', finishedAt: ago(1) }, { id: 'a', kind: 'manual', finishedAt: ago(2) }], P, NOW));
});

test('ISO weeks in UTC', (t) => {
  t.is(isoWeek(new Date('2027-01-01T02:30:00Z')), 202653);
  t.is(isoWeek(new Date('2027-01-04T00:00:00Z')), 202701);
  t.is(isoWeek(new Date('2026-11-21T23:59:59Z')), 202647);
  t.is(isoWeek(new Date('2024-12-30T00:00:00Z')), 202501);
});

test('invalid policy files: ConfigError naming the key', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['policies:\n  nightly:\n    keep-daily: -1\n', /policies\.nightly\.keep-daily must be a whole number/],
    ['policies:\n  nightly:\n    keep-dayly: 7\n', /policies\.nightly\.keep-dayly is not a known rule/],
    ['policies:\n  manual:\n    keep-within: 30 days\n', /policies\.manual\.keep-within must be a span/],
    ['policies:\n  manual:\n    keep-last: 0\n', /policies\.manual keeps nothing/],
    ['policy:\n  manual: {}\n', /policy is not a known key/],
    ['policies: [1, 2]\n', /policies must be a mapping/],
    ['policies:\n  nightly: [\n', /not valid YAML/],
  ];
  const dir = await mkdtemp(join(tmpdir(), 'ngcp-retention-'));
  try {
    for (const [text, message] of cases) {
      const file = join(dir, 'p.yml');
      await writeFile(file, text);
      const err = await t.throwsAsync(loadPolicies(file), { instanceOf: ConfigError });
      t.regex(err!.message, message);
    }
    await t.throwsAsync(loadPolicies(join(dir, 'missing.yml')), { instanceOf: ConfigError, message: /cannot read retention policies .*ENOENT/ });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
