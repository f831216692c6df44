import type { Db } from './connection.js';
import type { ColumnInfo } from './row-format.js';

/** What a snapshot needs to know about a table, read from information_schema. */
export interface TableInfo {
  database: string;
  name: string;
  /** 'table' holds rows; 'sequence' is a SEQUENCE object; 'view' has no rows. */
  kind: 'table' | 'sequence' | 'view';
  engine: string | null;
  /** True when a consistent-snapshot transaction sees a consistent copy (InnoDB). */
  transactional: boolean;
  /** MERGE and similar engines whose rows live in other tables: schema only. */
  dataElsewhere: boolean;
  estimatedRows: number;
  columns: ColumnInfo[];
  /** First column of the primary key when it is an integer: used to split big tables. */
  chunkColumn: string | null;
}

export interface DatabaseInfo {
  name: string;
  charset: string;
  collation: string;
  tables: TableInfo[];
}

const ALWAYS_EXCLUDED = ['information_schema', 'performance_schema', 'sys', 'mysql'];
const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'bigint']);
const DATA_ELSEWHERE = new Set(['MRG_MYISAM', 'MRG_MyISAM', 'BLACKHOLE', 'FEDERATED', 'CONNECT', 'SPIDER']);

export async function listDatabases(db: Db, exclude: string[]): Promise<DatabaseInfo[]> {
  const skip = new Set([...ALWAYS_EXCLUDED, ...exclude]);
  const schemata = await db.query<{ name: string; charset: string; collation: string }>(
    'SELECT SCHEMA_NAME AS name, DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME',
  );
  const databases = schemata.filter((s) => !skip.has(s.name));
  if (databases.length === 0) return [];
  const names = databases.map((d) => d.name);

  const tables = await db.query<{ db: string; name: string; type: string; engine: string | null; rows: string | null }>(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name, TABLE_TYPE AS type, ENGINE AS engine, TABLE_ROWS AS \`rows\`
       FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (?) ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    [names],
  );
  const columns = await db.query<{ db: string; tbl: string; name: string; dataType: string; columnType: string; charset: string | null; generated: string; extra: string }>(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS tbl, COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType,
            CHARACTER_SET_NAME AS charset, IS_GENERATED AS generated, EXTRA AS extra
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN (?) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
    [names],
  );
  const keys = await db.query<{ db: string; tbl: string; name: string }>(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS tbl, COLUMN_NAME AS name FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA IN (?) AND INDEX_NAME = 'PRIMARY' AND SEQ_IN_INDEX = 1`,
    [names],
  );

  const byTable = new Map<string, ColumnInfo[]>();
  for (const c of columns) {
    const key = `${c.db}\0${c.tbl}`;
    const generated = c.generated === 'ALWAYS' || /\b(VIRTUAL|STORED|PERSISTENT)\b/i.test(c.extra ?? '');
    (byTable.get(key) ?? byTable.set(key, []).get(key)!).push({
      name: c.name,
      dataType: c.dataType,
      columnType: c.columnType,
      charset: c.charset,
      generated,
    });
  }
  const pkFirst = new Map(keys.map((k) => [`${k.db}\0${k.tbl}`, k.name]));

  return databases.map((d) => ({
    name: d.name,
    charset: d.charset,
    collation: d.collation,
    tables: tables
      .filter((t) => t.db === d.name && t.type !== 'SYSTEM VIEW')
      .map((t): TableInfo => {
        const key = `${t.db}\0${t.name}`;
        const cols = byTable.get(key) ?? [];
        const kind = t.type === 'VIEW' ? 'view' : t.type === 'SEQUENCE' ? 'sequence' : 'table';
        const pk = pkFirst.get(key);
        const pkCol = pk ? cols.find((c) => c.name === pk) : undefined;
        return {
          database: t.db,
          name: t.name,
          kind,
          engine: t.engine,
          transactional: t.engine?.toLowerCase() === 'innodb',
          dataElsewhere: t.engine !== null && DATA_ELSEWHERE.has(t.engine.toUpperCase() === 'MRG_MYISAM' ? 'MRG_MYISAM' : t.engine),
          estimatedRows: Number(t.rows ?? 0),
          columns: cols,
          chunkColumn: pkCol && INTEGER_TYPES.has(pkCol.dataType.toLowerCase()) ? pkCol.name : null,
        };
      }),
  }));
}
