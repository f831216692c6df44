import type { TableInfo } from '../mysql/catalog.js';
import { quoteIdent, type Db } from '../mysql/connection.js';

/** One chunk of a table's rows: its number, the WHERE condition that selects it, its expected share of rows. */
export interface ChunkPlan {
  chunk: number;
  where: string | null;
  weight: number;
}

/**
 * Splits a big table on the first primary-key column (an integer) into ranges of about
 * chunkRows rows. The first and last ranges are open, so the split never misses a row
 * whatever the bounds read now are.
 */
export async function planChunks(db: Db, t: TableInfo, chunkRows: number): Promise<ChunkPlan[]> {
  if (!t.chunkColumn || t.estimatedRows <= chunkRows) return [wholeTable(t)];
  const c = quoteIdent(t.chunkColumn);
  const [row] = await db.query<{ lo: string | null; hi: string | null }>(
    `SELECT MIN(${c}) AS lo, MAX(${c}) AS hi FROM ${quoteIdent(t.database)}.${quoteIdent(t.name)}`,
  );
  if (row?.lo == null || row.hi == null) return [wholeTable(t)];
  return chunkRanges(t.chunkColumn, BigInt(row.lo), BigInt(row.hi), t.estimatedRows, chunkRows);
}

function wholeTable(t: TableInfo): ChunkPlan {
  return { chunk: 1, where: null, weight: t.estimatedRows };
}

/**
 * Pure: the ranges of `column` between lo and hi (inclusive) for about estimatedRows rows in
 * chunks of about chunkRows; the first range has no lower bound and the last no upper bound.
 */
export function chunkRanges(column: string, lo: bigint, hi: bigint, estimatedRows: number, chunkRows: number): ChunkPlan[] {
  const whole: ChunkPlan = { chunk: 1, where: null, weight: estimatedRows };
  if (estimatedRows <= chunkRows) return [whole];
  const c = quoteIdent(column);
  const n = BigInt(Math.ceil(estimatedRows / chunkRows));
  const step = (hi - lo + 1n) / n;
  if (step < 1n) return [whole];
  const bounds: bigint[] = [];
  for (let i = 1n; i < n; i++) bounds.push(lo + i * step);
  const weight = Math.ceil(estimatedRows / Number(n));
  return [...bounds, null].map((upper, i) => {
    const lower = i === 0 ? null : bounds[i - 1]!;
    const parts = [lower !== null ? `${c} >= ${lower}` : null, upper !== null ? `${c} < ${upper}` : null].filter(Boolean);
    return { chunk: i + 1, where: parts.join(' AND '), weight };
  });
}
