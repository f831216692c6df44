import { text } from 'node:stream/consumers';
import type { Readable } from 'node:stream';
import type { ManifestObject } from '../format/manifest.js';
import { connect, connectForRows, quoteIdent, type Db } from '../mysql/connection.js';
import type { MysqlTarget } from '../mysql/credentials.js';
import { splitStatements } from '../mysql/schema-sql.js';
import { info, type Reporter } from '../report/reporter.js';
import { deferSecondaryKeys } from './deferred-keys.js';
import { loadDataColumns, loadDataFile, localInfileAllowed } from './load-data.js';
import { loadObjects } from './objects.js';
import { runLoadSchedule, type RowCheck } from './schedule.js';
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
   * Work that needs a table's rows but not its secondary keys (recomputing its figures): each
   * check runs as soon as its table's rows are in and its deferred keys are being built, in the
   * same schedule as the load. A check's failure fails the load.
   */
  rowChecks?: RowCheck[];
  /** Tables with more data than this are loaded without their secondary keys (default 4 MiB). */
  deferKeysAboveBytes?: number;
}

const LOAD_SESSION =
  "SET NAMES utf8mb4, SESSION time_zone = '+00:00', SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', " +
  'SESSION foreign_key_checks = 0, SESSION unique_checks = 0, SESSION check_constraint_checks = 0, SESSION net_read_timeout = 3600, SESSION wait_timeout = 86400';
/** Tables with less data than this keep their keys (an ALTER costs more than it saves). */
const DEFER_KEYS_ABOVE_BYTES = 4 * 1024 * 1024;

/**
 * Loads a snapshot's databases: schemas (big tables without their secondary keys); rows (one
 * connection per worker, biggest objects first), each table's deferred keys as soon as its rows
 * are in and the row checks, in one schedule (schedule.ts); accounts and grants; then views,
 * routines, triggers and events (after the rows, so that triggers do not fire during the load).
 * Drops what it replaces.
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
    const addKeys = new Map<string, string>();
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
        if (table !== undefined && (dataSize.get(`${database}\0${table}`) ?? 0) > (deps.deferKeysAboveBytes ?? DEFER_KEYS_ABOVE_BYTES)) {
          const d = deferSecondaryKeys(sql, `${quoteIdent(database)}.${quoteIdent(table)}`);
          await main.query(d.create);
          if (d.addKeys) addKeys.set(`${database}\0${table}`, d.addKeys);
        } else {
          await main.query(sql);
        }
      }
      deps.progress?.(`schema of ${database}`);
    }
    info(deps.reporter, 'schemas created', { databases: selection.databases.length });

    // 2. Rows, deferred keys and the checks that need only rows, in one schedule.
    const data = objects.filter((x) => x.role === 'data' && wanted(x));
    // LOAD DATA where the server allows it and the table's columns read back that way.
    const infile = await localInfileAllowed(main);
    const columnLists = new Map<string, string | null>();
    for (const o of data) {
      const key = `${o.database}\0${o.table}`;
      if (!columnLists.has(key)) columnLists.set(key, infile ? await loadDataColumns(main, o.database!, o.table!) : null);
    }
    const load = async (o: ManifestObject, db: Db): Promise<void> => {
      const columnList = columnLists.get(`${o.database}\0${o.table}`);
      const what = `rows of ${o.database}.${o.table}, object ${o.name}`;
      if (columnList) {
        await loadDataFile(db, o.database!, o.table!, columnList, await deps.open(o.name), what);
      } else {
        await loadStatements(db, o, await deps.open(o.name), what, deps.signal);
      }
      deps.progress?.(`rows of ${o.database}.${o.table} (chunk ${o.chunk})`);
    };
    await runLoadSchedule({ workers: conns, data, addKeys, load, checks: deps.rowChecks ?? [], signal: deps.signal, openMonitor: () => connect(deps.target) });
    info(deps.reporter, 'rows loaded and secondary keys built', { objects: data.length, bytes: data.reduce((n, o) => n + o.rawSize, 0), deferred_keys: addKeys.size });

    // 3. Accounts and grants.
    if (selection.grants) {
      for (const o of objects.filter((x) => x.role === 'grants')) {
        for (const sql of splitStatements(await text(await deps.open(o.name)))) await main.querySecret(sql, 'accounts and grants');
      }
      await main.query('FLUSH PRIVILEGES');
      deps.progress?.('accounts and grants');
    }

    // 4. Views, routines, triggers, events (after the rows, so that triggers do not fire during the load).
    await loadObjects(main, objects.filter((x) => x.role === 'objects' && wanted(x)), deps.open, selection.table?.table, deps.progress);
  } finally {
    await Promise.allSettled(conns.map((c) => c.close()));
  }
}

/** A data object as INSERT statements (when LOAD DATA cannot be used). */
async function loadStatements(db: Db, o: ManifestObject, source: Readable, what: string, signal?: AbortSignal): Promise<void> {
  await db.query(`USE ${quoteIdent(o.database!)}`);
  const statements = source.pipe(new StatementSplitter());
  source.once('error', (error) => statements.destroy(error));
  try {
    for await (const sql of statements as AsyncIterable<string>) {
      if (/^SET /.test(sql)) continue; // the session is already set up the same way
      signal?.throwIfAborted();
      await db.querySecret(sql, what);
    }
  } finally {
    // Leaving early (an error, SIGTERM) must stop the decrypt and zstd stages too.
    source.destroy();
  }
}
