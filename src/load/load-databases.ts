import { text } from 'node:stream/consumers';
import type { Readable } from 'node:stream';
import type { DatabaseDetails, TableDetails } from '../dump/dump-databases.js';
import { connect, connectForRows, quoteIdent, type Db } from '../mysql/connection.js';
import { prepareSession } from '../mysql/snapshot.js';
import { forEachWithWorkers } from '../util/pool.js';
import type { MysqlTarget } from '../mysql/credentials.js';
import { splitStatements } from '../mysql/schema-sql.js';
import type { ManifestObject } from '../repository/manifest.js';
import { info, type Reporter } from '../report/reporter.js';
import { deferSecondaryKeys } from './deferred-keys.js';
import { loadDataColumns, loadDataFile, localInfileAllowed } from './load-data.js';
import { StatementSplitter } from './sql-lines.js';

/** What to load: whole databases, or one table of one database. */
export interface LoadSelection {
  databases: string[];
  table?: { database: string; table: string };
  grants: boolean;
}

export interface LoadDeps {
  target: MysqlTarget;
  /** The plaintext of a snapshot object (already verified). */
  open: (name: string) => Promise<Readable>;
  reporter: Reporter;
  signal?: AbortSignal;
  /** Called after each step, so an interrupted restore can say what it finished. */
  progress?: (done: string) => void;
  /**
   * Work that needs the rows but not the secondary keys (recomputing the figures): it runs while
   * the deferred keys are built, which MariaDB does on one core per table. Its failure fails the load.
   */
  whileKeysBuild?: () => Promise<void>;
}

const LOAD_SESSION =
  "SET NAMES utf8mb4, SESSION time_zone = '+00:00', SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', " +
  'SESSION foreign_key_checks = 0, SESSION unique_checks = 0, SESSION check_constraint_checks = 0, SESSION net_read_timeout = 3600, SESSION wait_timeout = 86400';
/** Tables with less data than this keep their keys (an ALTER costs more than it saves). */
const DEFER_KEYS_ABOVE_BYTES = 4 * 1024 * 1024;

/**
 * Loads a snapshot's databases: schemas (big tables without their secondary keys), rows in
 * parallel (one connection per worker, biggest objects first), the deferred keys, accounts
 * and grants, then views, routines, triggers and events (after the rows, so that triggers do
 * not fire during the load). Drops what it replaces.
 */
export async function loadDatabases(deps: LoadDeps, objects: ManifestObject[], selection: LoadSelection, parallel: number): Promise<void> {
  const conns: Db[] = await connectForRows(deps.target, Math.max(1, parallel));
  try {
    for (const db of conns) {
      await db.query(LOAD_SESSION);
      await db.query('SET SESSION sql_log_bin = 0').catch(() => {});
    }
    const main = conns[0]!;
    const wanted = (o: ManifestObject): boolean =>
      o.database !== undefined &&
      selection.databases.includes(o.database) &&
      (!selection.table || (o.database === selection.table.database && (o.role !== 'data' || o.table === selection.table.table)));
    const dataSize = new Map<string, number>();
    for (const o of objects.filter((x) => x.role === 'data')) {
      dataSize.set(`${o.database}\0${o.table}`, (dataSize.get(`${o.database}\0${o.table}`) ?? 0) + o.rawSize);
    }

    // 1. Schemas.
    const addKeys: string[] = [];
    for (const o of objects.filter((x) => x.role === 'schema' && wanted(x))) {
      deps.signal?.throwIfAborted();
      const database = o.database!;
      const statements = splitStatements(await text(await deps.open(o.name)));
      if (selection.table) {
        await main.query(`DROP TABLE IF EXISTS ${quoteIdent(database)}.${quoteIdent(selection.table.table)}`);
      } else {
        await main.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)}`);
      }
      for (const sql of statements) {
        const table = /^CREATE TABLE `((?:[^`]|``)+)`/.exec(sql)?.[1]?.replace(/``/g, '`');
        if (selection.table && table !== undefined && table !== selection.table.table) continue;
        if (selection.table && /^(CREATE SEQUENCE|SELECT SETVAL)/.test(sql)) continue;
        if (table !== undefined && (dataSize.get(`${database}\0${table}`) ?? 0) > DEFER_KEYS_ABOVE_BYTES) {
          const d = deferSecondaryKeys(sql, `${quoteIdent(database)}.${quoteIdent(table)}`);
          await main.query(d.create);
          if (d.addKeys) addKeys.push(d.addKeys);
        } else {
          await main.query(sql);
        }
      }
      deps.progress?.(`schema of ${database}`);
    }
    info(deps.reporter, 'schemas created', { databases: selection.databases.length });

    // 2. Rows, in parallel.
    const data = objects.filter((x) => x.role === 'data' && wanted(x)).sort((a, b) => b.rawSize - a.rawSize);
    // LOAD DATA where the server allows it and the table's columns read back that way.
    const infile = await localInfileAllowed(main);
    const columnLists = new Map<string, string | null>();
    for (const o of data) {
      const key = `${o.database}\0${o.table}`;
      if (!columnLists.has(key)) columnLists.set(key, infile ? await loadDataColumns(main, o.database!, o.table!) : null);
    }
    let loaded = 0;
    await forEachWithWorkers(conns, data, async (o, db) => {
      deps.signal?.throwIfAborted();
      const columnList = columnLists.get(`${o.database}\0${o.table}`);
      const what = `rows of ${o.database}.${o.table}, object ${o.name}`;
      if (columnList) {
        await loadDataFile(db, o.database!, o.table!, columnList, await deps.open(o.name), what);
        loaded += o.rawSize;
        deps.progress?.(`rows of ${o.database}.${o.table} (chunk ${o.chunk})`);
        return;
      }
      await db.query(`USE ${quoteIdent(o.database!)}`);
      const source = await deps.open(o.name);
      const statements = source.pipe(new StatementSplitter());
      source.once('error', (error) => statements.destroy(error));
      try {
        for await (const sql of statements as AsyncIterable<string>) {
          if (/^SET /.test(sql)) continue; // the session is already set up the same way
          deps.signal?.throwIfAborted();
          await db.querySecret(sql, what);
        }
      } finally {
        // Leaving early (an error, SIGTERM) must stop the decrypt and zstd stages too.
        source.destroy();
      }
      loaded += o.rawSize;
      deps.progress?.(`rows of ${o.database}.${o.table} (chunk ${o.chunk})`);
    });
    info(deps.reporter, 'rows loaded', { objects: data.length, bytes: loaded });

    // 3. Deferred secondary keys, one ALTER per table, in parallel; alongside, whatever needs
    // only the rows (InnoDB builds the keys online: reads go on).
    await Promise.all([
      forEachWithWorkers(conns, addKeys, async (sql, db) => {
        deps.signal?.throwIfAborted();
        await db.query(sql);
      }),
      deps.whileKeysBuild?.(),
    ]);
    if (addKeys.length) info(deps.reporter, 'secondary keys built', { tables: addKeys.length });

    // 4. Accounts and grants.
    if (selection.grants) {
      for (const o of objects.filter((x) => x.role === 'grants')) {
        for (const sql of splitStatements(await text(await deps.open(o.name)))) await main.querySecret(sql, 'accounts and grants');
      }
      await main.query('FLUSH PRIVILEGES');
      deps.progress?.('accounts and grants');
    }

    // 5. Views, routines, triggers, events. A view may use a view of a database loaded later:
    // what fails for a missing table is tried again once everything else exists.
    let pending: Array<{ database: string; setup: string[]; sql: string }> = [];
    for (const o of objects.filter((x) => x.role === 'objects' && wanted(x))) {
      const database = o.database!;
      let setup: string[] = [];
      for (const sql of splitStatements(await text(await deps.open(o.name)))) {
        if (/^(SET|USE) /.test(sql)) {
          setup = /^USE /.test(sql) ? [sql] : [setup[0] ?? `USE ${quoteIdent(database)}`, sql];
          await main.query(sql);
          continue;
        }
        if (selection.table && !isTriggerOn(sql, selection.table.table)) continue;
        try {
          await main.query(sql);
        } catch (error) {
          // Something it uses is not there yet (a table, a view, a routine of a later database).
          if (![1146, 1305, 1356].includes((error as { cause?: { errno?: number } }).cause?.errno ?? 0)) throw error;
          pending.push({ database, setup: [...setup], sql });
        }
      }
      deps.progress?.(`views, routines, triggers and events of ${database}`);
    }
    for (let round = 0; pending.length > 0 && round < 10; round++) {
      const failed: typeof pending = [];
      for (const p of pending) {
        try {
          for (const s of p.setup) await main.query(s);
          await main.query(p.sql);
        } catch {
          failed.push(p);
        }
      }
      if (failed.length === pending.length) {
        for (const s of failed[0]!.setup) await main.query(s);
        await main.query(failed[0]!.sql); // throws the real error
      }
      pending = failed;
    }
  } finally {
    await Promise.allSettled(conns.map((c) => c.close()));
  }
}

/** Whether a CREATE TRIGGER is on `table` (written `t`, `db`.`t` or db.t). */
export function isTriggerOn(sql: string, table: string): boolean {
  const id = '(?:`(?:[^`]|``)+`|[\\w$]+)';
  const m = new RegExp(`\\bTRIGGER\\b[\\s\\S]*?\\b(?:BEFORE|AFTER)\\s+(?:INSERT|UPDATE|DELETE)\\s+ON\\s+(${id}(?:\\s*\\.\\s*${id})?)`, 'i').exec(sql);
  if (!m) return false;
  const last = m[1]!.split(/\s*\.\s*(?=[`\w$])/).at(-1)!;
  return last.replace(/^`|`$/g, '').replace(/``/g, '`') === table;
}


/**
 * loadDatabases, with every loaded table's figures recomputed while the deferred keys are
 * built (they need the rows only), with the load's own credentials.
 */
export async function loadAndVerifyDatabases(
  deps: LoadDeps,
  objects: ManifestObject[],
  selection: LoadSelection,
  parallel: number,
  databases: DatabaseDetails[],
): Promise<{ checked: number; mismatches: TableMismatch[] }> {
  let figures: { checked: number; mismatches: TableMismatch[] } | undefined;
  const whileKeysBuild = async (): Promise<void> => {
    figures = await verifyTables(deps.target, databases, selection, parallel);
  };
  await loadDatabases({ ...deps, whileKeysBuild }, objects, selection, parallel);
  return figures!;
}

export interface TableMismatch {
  table: string;
  expected: { rows: number; checksum: string };
  actual: { rows: number; checksum: string };
}

/**
 * Recomputes every restored table's row count and checksum (the same SUM(CRC32(row text)) the
 * dump took inside the snapshot) and returns the tables that differ. A table dumped in
 * primary-key chunks is checked chunk by chunk (each range has its own figures), so that one
 * big table keeps every connection busy.
 */
export async function verifyTables(
  target: MysqlTarget,
  databases: DatabaseDetails[],
  selection: LoadSelection,
  parallel: number,
): Promise<{ checked: number; mismatches: TableMismatch[] }> {
  const tables = databases
    .filter((d) => selection.databases.includes(d.name))
    .flatMap((d) => d.tables.filter((t) => t.hasData && (!selection.table || (selection.table.database === d.name && selection.table.table === t.name))).map((t) => ({ d, t })));
  const work = tables.flatMap(({ d, t }) => {
    const chunks = t.chunks ?? [];
    const ranged = chunks.length > 1 && chunks.every((c) => c.range);
    return (ranged ? chunks.map((c) => c.range) : [null]).map((range) => ({ d, t, range }));
  });
  const actual = new Map<TableDetails, { rows: number; checksum: bigint }>();
  const conns = await Promise.all(Array.from({ length: Math.max(1, parallel) }, () => connect(target)));
  try {
    // The dump's session: the row expression must render the same way.
    await Promise.all(conns.map((db) => prepareSession(db)));
    // Biggest tables first, so the connections finish together.
    work.sort((a, b) => (b.t.rows ?? 0) / (b.t.chunks?.length || 1) - (a.t.rows ?? 0) / (a.t.chunks?.length || 1));
    await forEachWithWorkers(conns, work, async ({ d, t, range }, db) => {
      const [row] = await db.query<{ n: string; s: string | null }>(
        `SELECT COUNT(*) AS n, SUM(CRC32(${t.rowExpression})) AS s FROM ${quoteIdent(d.name)}.${quoteIdent(t.name)}${range ? ` WHERE ${range}` : ''}`,
      );
      const sum = actual.get(t) ?? { rows: 0, checksum: 0n };
      actual.set(t, { rows: sum.rows + Number(row!.n), checksum: sum.checksum + BigInt(row!.s ?? '0') });
    });
  } finally {
    await Promise.allSettled(conns.map((c) => c.close()));
  }
  const mismatches: TableMismatch[] = [];
  for (const { d, t } of tables) {
    const got = actual.get(t) ?? { rows: 0, checksum: 0n };
    if (got.rows !== t.rows || got.checksum.toString() !== t.checksum) {
      mismatches.push({ table: `${d.name}.${t.name}`, expected: { rows: t.rows!, checksum: t.checksum! }, actual: { rows: got.rows, checksum: got.checksum.toString() } });
    }
  }
  return { checked: tables.length, mismatches: mismatches.sort((a, b) => a.table.localeCompare(b.table)) };
}
