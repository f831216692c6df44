import type { DatabaseInfo } from './catalog.js';
import { quoteIdent, type Db } from './connection.js';

/**
 * MariaDB keeps table metadata in utf8mb3: SHOW CREATE TABLE and information_schema render an
 * ENUM or SET label with a 4-byte character (an emoji) as '?', although the table itself
 * stores it correctly. A dump that trusts SHOW CREATE TABLE (mariadb-dump does) silently
 * changes such a column. For those columns only, the true labels are read back from a
 * temporary copy of the table definition: insert each member by its number, read its text.
 * Returns, per `db\0table\0column`, the column type with the true labels.
 */
export async function recoverEnumLabels(db: Db, databases: DatabaseInfo[]): Promise<Map<string, string>> {
  const recovered = new Map<string, string>();
  for (const d of databases) {
    for (const t of d.tables) {
      const lossy = t.columns.filter((c) => /^(enum|set)$/i.test(c.dataType) && c.columnType.includes('?'));
      if (lossy.length === 0 || t.kind !== 'table') continue;
      // Temporary: visible to this session only, never written to the binlog in ROW format.
      const tmp = `${quoteIdent(d.name)}.${quoteIdent(`ngcp_backup_labels_${process.pid}`)}`;
      try {
        await db.query(`CREATE TEMPORARY TABLE ${tmp} LIKE ${quoteIdent(d.name)}.${quoteIdent(t.name)}`);
      } catch {
        continue; // e.g. a partitioned table (no temporary copy possible): keep what SHOW CREATE says
      }
      try {
        await db.query(`ALTER TABLE ${tmp} REMOVE PARTITIONING`).catch(() => {});
        for (const c of lossy) {
          const members = splitMembers(c.columnType);
          const isSet = /^set$/i.test(c.dataType);
          await db.query(`DELETE FROM ${tmp}`);
          const labels: string[] = [];
          for (let i = 0; i < members.length; i++) {
            const value = isSet ? 2 ** i : i + 1;
            await db.query(`INSERT INTO ${tmp} (${quoteIdent(c.name)}) VALUES (${value})`);
            const [row] = await db.query<{ l: string }>(`SELECT CONVERT(${quoteIdent(c.name)} USING utf8mb4) AS l FROM ${tmp}`);
            labels.push(row?.l ?? members[i]!);
            await db.query(`DELETE FROM ${tmp}`);
          }
          const type = `${c.dataType.toLowerCase()}(${labels.map((l) => `'${l.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`).join(',')})`;
          recovered.set(`${d.name}\0${t.name}\0${c.name}`, type);
        }
      } finally {
        await db.query(`DROP TEMPORARY TABLE IF EXISTS ${tmp}`);
      }
    }
  }
  return recovered;
}

/** The quoted members of `enum('a','b''c')` (as written, escapes kept). */
export function splitMembers(columnType: string): string[] {
  const body = columnType.slice(columnType.indexOf('(') + 1, columnType.lastIndexOf(')'));
  const out: string[] = [];
  let i = 0;
  while (i < body.length) {
    if (body[i] !== "'") {
      i++;
      continue;
    }
    let j = i + 1;
    let s = '';
    while (j < body.length) {
      if (body[j] === "'" && body[j + 1] === "'") {
        s += "'";
        j += 2;
      } else if (body[j] === '\\') {
        s += body[j + 1] ?? '';
        j += 2;
      } else if (body[j] === "'") break;
      else s += body[j++];
    }
    out.push(s);
    i = j + 1;
  }
  return out;
}

/** Replaces the type of one column in a CREATE TABLE statement (the `enum(...)`/`set(...)` after its name). */
export function replaceColumnType(createSql: string, column: string, newType: string): string {
  const head = `\n  ${quoteIdent(column)} `;
  const at = createSql.indexOf(head);
  if (at < 0) return createSql;
  const start = at + head.length;
  let i = createSql.indexOf('(', start) + 1;
  let inQuote = false;
  for (; i < createSql.length; i++) {
    const ch = createSql[i];
    if (inQuote) {
      if (ch === '\\') i++;
      else if (ch === "'" && createSql[i + 1] === "'") i++;
      else if (ch === "'") inQuote = false;
    } else if (ch === "'") inQuote = true;
    else if (ch === ')') break;
  }
  return createSql.slice(0, start) + newType + createSql.slice(i + 1);
}
