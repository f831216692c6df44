import { text } from 'node:stream/consumers';
import type { Readable } from 'node:stream';
import type { DatabaseDetails, TableDetails } from '../dump/dump-databases.js';
import { connect, connectForRows, quoteIdent, type Db } from '../mysql/connection.js';
import { prepareSession } from '../mysql/snapshot.js';
import { PrioritySlots } from '../util/pool.js';
import type { MysqlTarget } from '../mysql/credentials.js';
import { splitStatements } from '../mysql/schema-sql.js';
import type { ManifestObject } from '../format/manifest.js';
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
   * Work that needs a table's rows but not its secondary keys (recomputing its figures): each
   * check runs as soon as its table's rows are in and its deferred keys are being built, in the
   * same schedule as the load. A check's failure fails the load.
   */
  rowChecks?: RowCheck[];
  /** Tables with more data than this are loaded without their secondary keys (default 4 MiB). */
  deferKeysAboveBytes?: number;
}

/** Something to do with one table once its rows are loaded. */
export interface RowCheck {
  database: string;
  table: string;
  run: () => Promise<void>;
}

const LOAD_SESSION =
  "SET NAMES utf8mb4, SESSION time_zone = '+00:00', SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', " +
  'SESSION foreign_key_checks = 0, SESSION unique_checks = 0, SESSION check_constraint_checks = 0, SESSION net_read_timeout = 3600, SESSION wait_timeout = 86400';
/** Tables with less data than this keep their keys (an ALTER costs more than it saves). */
const DEFER_KEYS_ABOVE_BYTES = 4 * 1024 * 1024;

/**
 * Loads a snapshot's databases: schemas (big tables without their secondary keys); rows (one
 * connection per worker, biggest objects first), each table's deferred keys as soon as its rows
 * are in and the row checks, in one schedule (loadRows); accounts and grants; then views,
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
    await loadRows(deps, conns, data, addKeys, load);
    info(deps.reporter, 'rows loaded and secondary keys built', { objects: data.length, bytes: data.reduce((n, o) => n + o.rawSize, 0), deferred_keys: addKeys.size });

    // 3. Accounts and grants.
    if (selection.grants) {
      for (const o of objects.filter((x) => x.role === 'grants')) {
        for (const sql of splitStatements(await text(await deps.open(o.name)))) await main.querySecret(sql, 'accounts and grants');
      }
      await main.query('FLUSH PRIVILEGES');
      deps.progress?.('accounts and grants');
    }

    // 4. Views, routines, triggers, events. A view may use a view of a database loaded later:
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

/** Which waiting work a free connection takes first (see loadRows). */
const KEYS = 0;
const ROWS = 1;
const CHECKS = 2;

/**
 * Loads the data objects and builds each table's deferred keys and runs the row checks, at most
 * one step per connection at a time. A table's key build starts as soon as its last object is
 * loaded and goes before everything else: MariaDB builds a table's keys on one core, so the
 * biggest table's build is the restore's longest step, and the other connections go on loading
 * and checking beside it. A table's checks wait for its rows and, when it has deferred keys,
 * until the build is under way (a read that started first would hold the build up until the
 * read ends). After the first failure nothing new starts; it is thrown once every running
 * step has ended.
 */
async function loadRows(
  deps: LoadDeps,
  conns: Db[],
  data: ManifestObject[],
  addKeys: Map<string, string>,
  load: (o: ManifestObject, db: Db) => Promise<void>,
): Promise<void> {
  const slots = new PrioritySlots(conns.length);
  const free = [...conns];
  let failure: { error: unknown } | undefined;
  const gates: Gate[] = [];
  const newGate = (): Gate => {
    const g = gate();
    gates.push(g);
    return g;
  };
  const step = (priority: number, fn: (db: Db) => Promise<void>): Promise<void> =>
    slots.run(priority, async () => {
      if (failure) return;
      const db = free.pop()!;
      try {
        deps.signal?.throwIfAborted();
        await fn(db);
      } catch (error) {
        failure ??= { error };
        for (const g of gates) g.open(); // whatever waits on a gate sees the failure and stops
      } finally {
        free.push(db);
      }
    });

  const tableOf = (o: { database?: string; table?: string }): string => `${o.database}\0${o.table}`;
  const remaining = new Map<string, number>();
  for (const o of data) remaining.set(tableOf(o), (remaining.get(tableOf(o)) ?? 0) + 1);
  const rowsIn = new Map([...remaining.keys()].map((k) => [k, newGate()]));
  const building = new Map([...addKeys.keys()].map((k) => [k, newGate()]));
  const checks = deps.rowChecks ?? [];
  const monitor = addKeys.size > 0 && checks.length > 0 ? await connect(deps.target) : undefined;
  try {
    const steps: Array<Promise<void>> = [];
    // The biggest table's objects first, so that its key build can start as early as possible.
    const tableSize = new Map<string, number>();
    for (const o of data) tableSize.set(tableOf(o), (tableSize.get(tableOf(o)) ?? 0) + o.rawSize);
    const order = [...data].sort((a, b) => tableSize.get(tableOf(b))! - tableSize.get(tableOf(a))! || b.rawSize - a.rawSize);
    for (const o of order) {
      steps.push(
        step(ROWS, async (db) => {
          await load(o, db);
          const left = remaining.get(tableOf(o))! - 1;
          remaining.set(tableOf(o), left);
          if (left === 0) rowsIn.get(tableOf(o))!.open();
        }),
      );
    }
    for (const [table, sql] of addKeys) {
      const underway = building.get(table)!;
      steps.push(
        (async () => {
          await rowsIn.get(table)?.opened;
          await step(KEYS, async (db) => {
            const alter = db.query(sql);
            if (monitor) void whenBuilding(monitor, db.threadId, alter).then(underway.open);
            await alter;
          });
          underway.open();
        })(),
      );
    }
    for (const check of checks) {
      steps.push(
        (async () => {
          await rowsIn.get(tableOf(check))?.opened;
          await building.get(tableOf(check))?.opened;
          await step(CHECKS, () => check.run());
        })(),
      );
    }
    await Promise.all(steps);
  } finally {
    await monitor?.close();
  }
  if (failure) throw failure.error;
}

interface Gate {
  opened: Promise<void>;
  open: () => void;
}

function gate(): Gate {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/**
 * Resolves once the ALTER running on connection `threadId` is in its build stage ('altering
 * table': past the moment it needs the table to itself), or once `alter` has ended, or when the
 * processlist cannot be read. Polled every 100 ms.
 */
async function whenBuilding(monitor: Db, threadId: number, alter: Promise<unknown>): Promise<void> {
  let ended = false;
  alter.then(
    () => (ended = true),
    () => (ended = true),
  );
  while (!ended) {
    try {
      const [row] = await monitor.query<{ state: string | null }>('SELECT STATE AS state FROM information_schema.PROCESSLIST WHERE ID = ?', [threadId]);
      if (row?.state === 'altering table') return;
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
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

/** Whether a CREATE TRIGGER is on `table` (written `t`, `db`.`t` or db.t). */
export function isTriggerOn(sql: string, table: string): boolean {
  const id = '(?:`(?:[^`]|``)+`|[\\w$]+)';
  const m = new RegExp(`\\bTRIGGER\\b[\\s\\S]*?\\b(?:BEFORE|AFTER)\\s+(?:INSERT|UPDATE|DELETE)\\s+ON\\s+(${id}(?:\\s*\\.\\s*${id})?)`, 'i').exec(sql);
  if (!m) return false;
  const last = m[1]!.split(/\s*\.\s*(?=[`\w$])/).at(-1)!;
  return last.replace(/^`|`$/g, '').replace(/``/g, '`') === table;
}


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
