import type { DatabaseDetails, TableDetails } from '../format/details.js';
import type { ManifestObject } from '../format/manifest.js';
import { connect, quoteIdent, type Db } from '../mysql/connection.js';
import { prepareSession } from '../mysql/snapshot.js';
import { loadDatabases, type LoadDeps, type LoadSelection } from './load-databases.js';
import type { RowCheck } from './schedule.js';

/**
 * The proof of a restore (docs/design.md, "The proof"): every restored table's row count and
 * checksum, recomputed on the target and compared with the figures the snapshot took.
 */
/**
 * loadDatabases, with every loaded table's figures recomputed as row checks (while the load and
 * the key builds go on), with the load's own credentials, on connections of their own set up
 * like the dump's session (the row expression must render the same way).
 */
export async function loadAndVerifyDatabases(
  deps: LoadDeps,
  objects: ManifestObject[],
  selection: LoadSelection,
  parallel: number,
  databases: DatabaseDetails[],
): Promise<{ checked: number; mismatches: TableMismatch[] }> {
  const plan = planFigureChecks(databases, selection);
  const actual = new Map<TableDetails, { rows: number; checksum: bigint }>();
  const free: Db[] = [];
  const opened: Db[] = [];
  try {
    const rowChecks = plan.work.map((item): RowCheck => ({
      database: item.d.name,
      table: item.t.name,
      run: async () => {
        let db = free.pop();
        if (!db) {
          db = await connect(deps.target);
          opened.push(db);
          await prepareSession(db);
        }
        try {
          const got = await tableFigures(db, item);
          const sum = actual.get(item.t) ?? { rows: 0, checksum: 0n };
          actual.set(item.t, { rows: sum.rows + got.rows, checksum: sum.checksum + got.checksum });
        } finally {
          free.push(db);
        }
      },
    }));
    await loadDatabases({ ...deps, rowChecks }, objects, selection, parallel);
  } finally {
    await Promise.allSettled(opened.map((c) => c.close()));
  }
  return { checked: plan.tables.length, mismatches: compareFigures(plan.tables, actual) };
}

export interface TableMismatch {
  table: string;
  expected: { rows: number; checksum: string };
  actual: { rows: number; checksum: string };
}

interface FigureCheck {
  d: DatabaseDetails;
  t: TableDetails;
  /** The chunk's primary-key range, or null for the whole table. */
  range: string | null;
}

/**
 * The figure checks of a restore: every restored table with data, and a table dumped in
 * primary-key chunks chunk by chunk (each range has its own figures), so that one big table
 * keeps every connection busy. Biggest first.
 */
export function planFigureChecks(databases: DatabaseDetails[], selection: LoadSelection): { tables: Array<{ d: DatabaseDetails; t: TableDetails }>; work: FigureCheck[] } {
  const tables = databases
    .filter((d) => selection.databases.includes(d.name))
    .flatMap((d) => d.tables.filter((t) => t.hasData && (!selection.table || (selection.table.database === d.name && selection.table.table === t.name))).map((t) => ({ d, t })));
  const work = tables.flatMap(({ d, t }) => {
    const chunks = t.chunks ?? [];
    const ranged = chunks.length > 1 && chunks.every((c) => c.range);
    return (ranged ? chunks.map((c) => c.range) : [null]).map((range) => ({ d, t, range }));
  });
  const share = (c: FigureCheck): number => (c.t.rows ?? 0) / (c.t.chunks?.length || 1);
  work.sort((a, b) => share(b) - share(a));
  return { tables, work };
}

/** Recomputes a table's (or a chunk's) row count and checksum: the SUM(CRC32(row text)) the dump took inside the snapshot. */
async function tableFigures(db: Db, { d, t, range }: FigureCheck): Promise<{ rows: number; checksum: bigint }> {
  const [row] = await db.query<{ n: string; s: string | null }>(
    `SELECT COUNT(*) AS n, SUM(CRC32(${t.rowExpression})) AS s FROM ${quoteIdent(d.name)}.${quoteIdent(t.name)}${range ? ` WHERE ${range}` : ''}`,
  );
  return { rows: Number(row!.n), checksum: BigInt(row!.s ?? '0') };
}

/** The tables whose recomputed figures differ from the snapshot's. */
function compareFigures(tables: Array<{ d: DatabaseDetails; t: TableDetails }>, actual: Map<TableDetails, { rows: number; checksum: bigint }>): TableMismatch[] {
  const mismatches: TableMismatch[] = [];
  for (const { d, t } of tables) {
    const got = actual.get(t) ?? { rows: 0, checksum: 0n };
    if (got.rows !== t.rows || got.checksum.toString() !== t.checksum) {
      mismatches.push({ table: `${d.name}.${t.name}`, expected: { rows: t.rows!, checksum: t.checksum! }, actual: { rows: got.rows, checksum: got.checksum.toString() } });
    }
  }
  return mismatches.sort((a, b) => a.table.localeCompare(b.table));
}
