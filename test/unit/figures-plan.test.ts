import test from 'ava';
import type { DatabaseDetails, TableDetails } from '../../src/format/details.js';
import { planFigureChecks } from '../../src/load/figures.js';

const table = (name: string, rows: number, chunks: Array<string | null> = []): TableDetails => ({
  name,
  kind: 'table',
  engine: 'InnoDB',
  hasData: true,
  rows,
  checksum: '1',
  rowExpression: 'x',
  chunks: chunks.map((range, i) => ({ name: `${name}.${i + 1}`, range, rows: rows / (chunks.length || 1), checksum: '1' })),
});
const db = (name: string, tables: TableDetails[]): DatabaseDetails => ({ name, charset: 'utf8mb4', collation: 'utf8mb4_general_ci', tables, objects: { views: 0, routines: 0, triggers: 0, events: 0 } });

const databases = [
  db('accounting', [table('cdr', 3_000_000, ['`id` < 100', '`id` >= 100 AND `id` < 200', '`id` >= 200']), table('mark', 3), { name: 'merged', kind: 'table', engine: 'MRG_MyISAM', hasData: false }]),
  db('provisioning', [table('voip_subscribers', 500)]),
];

test('every restored table with data is checked; a chunked table chunk by chunk, biggest work first', (t) => {
  const plan = planFigureChecks(databases, { databases: ['accounting', 'provisioning'], grants: true });
  t.deepEqual(plan.tables.map(({ d, t: tb }) => `${d.name}.${tb.name}`), ['accounting.cdr', 'accounting.mark', 'provisioning.voip_subscribers'], 'MERGE tables are checked through their bases');
  t.deepEqual(plan.work.map((w) => `${w.t.name}:${w.range ?? 'all'}`), ['cdr:`id` < 100', 'cdr:`id` >= 100 AND `id` < 200', 'cdr:`id` >= 200', 'voip_subscribers:all', 'mark:all']);
});

test('a one-table or one-database restore checks only what it restores', (t) => {
  t.deepEqual(planFigureChecks(databases, { databases: ['provisioning'], grants: false }).tables.map(({ t: tb }) => tb.name), ['voip_subscribers']);
  const one = planFigureChecks(databases, { databases: ['accounting'], table: { database: 'accounting', table: 'mark' }, grants: false });
  t.deepEqual(one.work.map((w) => w.t.name), ['mark']);
});
