import { Readable } from 'node:stream';
import type { Config } from '../config/schema.js';
import { DatabaseError } from '../errors.js';
import type { TableInfo } from '../mysql/catalog.js';
import { databaseError, quoteIdent, type Db } from '../mysql/connection.js';
import type { MysqlTarget } from '../mysql/credentials.js';
import { rowFormat } from '../mysql/row-format.js';
import { databaseObjectsSql, databaseSchemaSql, grantsSql, type SequenceState } from '../mysql/schema-sql.js';
import { ConsistentSnapshot } from '../mysql/snapshot.js';
import { recoverEnumLabels } from '../mysql/enum-labels.js';
import { objectNames } from '../format/layout.js';
import type { ManifestObject } from '../format/manifest.js';
import { info, type Reporter } from '../report/reporter.js';
import { storeSealed, type SealOptions } from '../repository/sealed.js';
import { forEachWithWorkers } from '../util/pool.js';
import { planChunks } from './chunks.js';
import { feedRows, TableData } from './table-data.js';
import type { BinlogPosition, TableFigures } from '../format/details.js';
import type { DatabaseDetails, TableDetails } from '../format/details.js';

export interface DumpResult {
  serverVersion: string;
  binlog: BinlogPosition | null;
  lockMs: number;
  databases: DatabaseDetails[];
  grants: string[];
  objects: ManifestObject[];
}

export interface DumpDeps {
  target: MysqlTarget;
  seal: SealOptions;
  /** Snapshot prefix; object names are relative to it. */
  prefix: string;
  reporter: Reporter;
  /** Called with each stored object as soon as it exists (so a failed run can remove it). */
  onStored: (object: ManifestObject) => void;
}

type Task = { label: string; weight: number; run: (db: Db) => Promise<void> };

/**
 * Dumps every database from one consistent instant (ConsistentSnapshot), in parallel:
 * non-transactional tables while the read lock is held, then schemas, objects and
 * InnoDB tables (big ones in primary-key chunks) in the workers' snapshot transactions.
 */
export async function dumpDatabases(deps: DumpDeps, mysql: Config['mysql']): Promise<DumpResult> {
  const failed = new AbortController();
  const outer = deps.seal.signal;
  const onOuterAbort = (): void => failed.abort(outer?.reason);
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  const seal: SealOptions = { ...deps.seal, signal: failed.signal };

  const snapshot = await ConsistentSnapshot.open(deps.target, {
    parallel: mysql.parallel,
    exclude: mysql.exclude,
    lockWaitTimeout: mysql.lockWaitTimeout,
  });
  const objects: ManifestObject[] = [];
  const stored = (o: ManifestObject): void => {
    objects.push(o);
    deps.onStored(o);
  };
  const details = new Map<string, DatabaseDetails>();
  const tableDetails = new Map<string, TableDetails>();
  for (const d of snapshot.databases) {
    const tables = d.tables.map((t): TableDetails => {
      const hasData = t.kind === 'table' && !t.dataElsewhere;
      const td: TableDetails = { name: t.name, kind: t.kind, engine: t.engine, hasData };
      if (hasData) {
        Object.assign(td, { rows: 0, checksum: '0', rowExpression: rowFormat(t.columns).expression, chunks: [] });
      }
      tableDetails.set(`${d.name}\0${t.name}`, td);
      return td;
    });
    details.set(d.name, { name: d.name, charset: d.charset, collation: d.collation, tables, objects: { views: 0, routines: 0, triggers: 0, events: 0 } });
  }

  const dataTask = (t: TableInfo, chunk: number, where: string | null): Task => ({
    label: `${t.database}.${t.name}${where ? ` chunk ${chunk}` : ''}`,
    weight: t.estimatedRows,
    run: async (db) => {
      const figures = await dumpTable(db, deps, seal, t, chunk, where, stored);
      const td = tableDetails.get(`${t.database}\0${t.name}`)!;
      td.rows! += figures.rows;
      td.checksum = (BigInt(td.checksum!) + BigInt(figures.checksum)).toString();
      td.chunks!.push({ name: objectNames.data(t.database, t.name, chunk), range: where, ...figures });
    },
  });

  try {
    // While locked: what a transaction cannot freeze.
    const sequences = new Map<string, SequenceState[]>();
    for (const d of snapshot.databases) {
      for (const s of d.tables.filter((t) => t.kind === 'sequence')) {
        const [row] = await snapshot.queryLocked<{ v: string }>(`SELECT next_not_cached_value AS v FROM ${quoteIdent(d.name)}.${quoteIdent(s.name)}`);
        (sequences.get(d.name) ?? sequences.set(d.name, []).get(d.name)!).push({ table: s.name, nextValue: String(row!.v) });
      }
    }
    const allTables = snapshot.databases.flatMap((d) => d.tables.filter((t) => t.kind === 'table' && !t.dataElsewhere));
    const locked = allTables.filter((t) => !t.transactional).map((t) => dataTask(t, 1, null));
    if (locked.length > 0) info(deps.reporter, `copying ${locked.length} non-transactional tables under the read lock`);
    await runTasks(snapshot.workers, locked, failed);
    const lockMs = await snapshot.release();
    info(deps.reporter, 'read lock released', { lock_ms: lockMs, binlog: snapshot.binlog ? `${snapshot.binlog.file}:${snapshot.binlog.position}` : 'off' });

    const trueTypes = await recoverEnumLabels(snapshot.controlDb, snapshot.databases);
    const tasks: Task[] = [];
    for (const d of snapshot.databases) {
      tasks.push({
        label: `schema of ${d.name}`,
        weight: Number.MAX_SAFE_INTEGER,
        run: async (db) => {
          const sql = await databaseSchemaSql(db, d, sequences.get(d.name) ?? [], trueTypes);
          stored(await storeText(seal, deps.prefix, objectNames.schema(d.name), sql, { role: 'schema', database: d.name }));
        },
      });
      tasks.push({
        label: `objects of ${d.name}`,
        weight: Number.MAX_SAFE_INTEGER - 1,
        run: async (db) => {
          const { sql, counts } = await databaseObjectsSql(db, d);
          details.get(d.name)!.objects = counts;
          stored(await storeText(seal, deps.prefix, objectNames.objects(d.name), sql, { role: 'objects', database: d.name }));
        },
      });
    }
    for (const t of allTables.filter((x) => x.transactional)) {
      tasks.push(...(await planChunks(snapshot.controlDb, t, mysql.chunkRows)).map(({ chunk, where, weight }) => ({ ...dataTask(t, chunk, where), weight })));
    }
    // Biggest first, so the workers finish together.
    tasks.sort((a, b) => b.weight - a.weight);
    await runTasks(snapshot.workers, tasks, failed);

    const grants = await grantsSql(snapshot.controlDb);
    stored(await storeText(seal, deps.prefix, objectNames.grants, grants.sql, { role: 'grants' }));
    await snapshot.close();
    return {
      serverVersion: snapshot.serverVersion,
      binlog: snapshot.binlog,
      lockMs,
      databases: [...details.values()],
      grants: grants.users,
      objects,
    };
  } catch (error) {
    failed.abort(error);
    snapshot.destroy();
    throw error;
  } finally {
    outer?.removeEventListener('abort', onOuterAbort);
  }
}

async function dumpTable(
  db: Db,
  deps: DumpDeps,
  seal: SealOptions,
  t: TableInfo,
  chunk: number,
  where: string | null,
  stored: (o: ManifestObject) => void,
): Promise<TableFigures> {
  const format = rowFormat(t.columns);
  const sql = `SELECT ${format.selectList} FROM ${quoteIdent(t.database)}.${quoteIdent(t.name)}${where ? ` WHERE ${where}` : ''}`;
  const name = objectNames.data(t.database, t.name, chunk);
  const data = new TableData(t.name, format.columnList, format.kinds, `data of ${quoteIdent(t.database)}.${quoteIdent(t.name)}${where ? ` where ${where}` : ''}`);
  let queryError: unknown;
  const feeding = feedRows(db, sql, data).catch((error: unknown) => {
    queryError = error instanceof DatabaseError ? error : databaseError(error, deps.target, sql);
  });
  try {
    const sealed = await storeSealed(seal, deps.prefix + name, data);
    await feeding;
    if (queryError) throw queryError;
    stored({ name, role: 'data', database: t.database, table: t.name, chunk, size: sealed.size, sha256: sealed.sha256, rawSize: sealed.rawSize });
    return data.figures();
  } catch (error) {
    data.destroy();
    await feeding;
    throw queryError ?? error;
  }
}

async function storeText(
  seal: SealOptions,
  prefix: string,
  name: string,
  text: string,
  what: Pick<ManifestObject, 'role' | 'database'>,
): Promise<ManifestObject> {
  const sealed = await storeSealed(seal, prefix + name, Readable.from([Buffer.from(text, 'utf8')]));
  return { name, ...what, size: sealed.size, sha256: sealed.sha256, rawSize: sealed.rawSize };
}

/**
 * Each worker connection takes the next task until none is left. The first failure aborts the
 * other workers' uploads; all of them settle before the caller removes what was stored.
 */
async function runTasks(workers: Db[], tasks: Task[], failed: AbortController): Promise<void> {
  try {
    await forEachWithWorkers(workers, tasks, async (task, db) => {
      failed.signal.throwIfAborted();
      try {
        await task.run(db);
      } catch (error) {
        if (!failed.signal.aborted) failed.abort(error);
        throw error;
      }
    });
  } catch (error) {
    throw failed.signal.aborted ? failed.signal.reason : error;
  }
}
