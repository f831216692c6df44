import { connect, quoteIdent } from '../../src/mysql/connection.js';

/**
 * A checksum of every table of every non-system database, by name: what a test compares before
 * and after a restore that must leave the server as it was. CHECKSUM TABLE, except for tables
 * with VIRTUAL generated columns, whose CHECKSUM TABLE is not stable for equal rows (seen with
 * stats.call_stats_5min): those are summed over their stored columns.
 */
export async function databaseChecksums(socket: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const db = await connect({ socket, user: 'root', describe: 'check' });
  try {
    const columns = await db.query<{ s: string; n: string; c: string; virtual: number }>(
      "SELECT c.TABLE_SCHEMA AS s, c.TABLE_NAME AS n, c.COLUMN_NAME AS c, c.EXTRA LIKE '%VIRTUAL%' AS virtual FROM information_schema.COLUMNS c " +
        "JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME AND t.TABLE_TYPE = 'BASE TABLE' " +
        "WHERE c.TABLE_SCHEMA NOT IN ('mysql', 'sys', 'performance_schema', 'information_schema') ORDER BY 1, 2, c.ORDINAL_POSITION",
    );
    const tables = new Map<string, { s: string; n: string; stored: string[]; virtual: boolean }>();
    for (const col of columns) {
      const key = `${col.s}.${col.n}`;
      const t = tables.get(key) ?? { s: col.s, n: col.n, stored: [], virtual: false };
      if (Number(col.virtual)) t.virtual = true;
      else t.stored.push(col.c);
      tables.set(key, t);
    }
    for (const [key, t] of tables) {
      const name = `${quoteIdent(t.s)}.${quoteIdent(t.n)}`;
      if (!t.virtual) {
        out[key] = String((await db.query<Record<string, unknown>>(`CHECKSUM TABLE ${name}`))[0]!['Checksum']);
        continue;
      }
      const row = t.stored.map((c) => `IFNULL(HEX(${quoteIdent(c)}), 'N')`).join(', ');
      const [sum] = await db.query<{ n: string; crc: string }>(`SELECT COUNT(*) AS n, SUM(CRC32(CONCAT_WS(',', ${row}))) AS crc FROM ${name}`);
      out[key] = `${sum!.n}/${sum!.crc}`;
    }
  } finally {
    await db.close();
  }
  return out;
}
