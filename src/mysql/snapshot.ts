import { DatabaseError } from '../errors.js';
import { listDatabases, type DatabaseInfo } from './catalog.js';
import { connect, connectForRows, type Db } from './connection.js';
import type { MysqlTarget } from './credentials.js';
import type { BinlogPosition } from '../format/details.js';

/**
 * One consistent instant across every database, the mydumper way: a global read lock, then
 * one consistent-snapshot transaction per worker connection, then (while the lock is still
 * held) the caller copies the tables a transaction cannot freeze (MyISAM, MERGE bases,
 * sequences); release() drops the lock and returns how long it was held.
 */
export class ConsistentSnapshot {
  private lockReleasedAt: number | undefined;
  private constructor(
    private readonly control: Db,
    readonly workers: Db[],
    readonly databases: DatabaseInfo[],
    readonly binlog: BinlogPosition | null,
    readonly serverVersion: string,
    private readonly lockedAt: number,
  ) {}

  static async open(target: MysqlTarget, options: { parallel: number; exclude: string[]; lockWaitTimeout: number }): Promise<ConsistentSnapshot> {
    const control = await connect(target);
    let workers: Db[] = [];
    try {
      workers = await connectForRows(target, options.parallel);
      await Promise.all([control, ...workers].map((db) => prepareSession(db)));
      await control.query(`SET SESSION lock_wait_timeout = ${options.lockWaitTimeout}`);
      const [{ version }] = (await control.query<{ version: string }>('SELECT VERSION() AS version')) as [{ version: string }];

      // Closing tables first keeps the locked flush short.
      await control.query('FLUSH NO_WRITE_TO_BINLOG TABLES').catch(() => {});
      const lockedAt = performance.now();
      try {
        await control.query('FLUSH TABLES WITH READ LOCK');
      } catch (error) {
        throw new DatabaseError(
          `could not take the global read lock within ${options.lockWaitTimeout} s (a long-running statement or lock?): ${(error as Error).message}`,
          { cause: error },
        );
      }
      await Promise.all(workers.map((db) => db.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY')));
      const binlog = await readBinlog(control);
      const databases = await listDatabases(control, options.exclude);
      return new ConsistentSnapshot(control, workers, databases, binlog, version, lockedAt);
    } catch (error) {
      control.destroy();
      workers.forEach((w) => w.destroy());
      throw error;
    }
  }

  /** Reads on the control connection while the lock is held (sequences). */
  queryLocked<T>(sql: string): Promise<T[]> {
    if (this.lockReleasedAt !== undefined) throw new Error('queryLocked after release');
    return this.control.query<T>(sql);
  }

  async release(): Promise<number> {
    if (this.lockReleasedAt === undefined) {
      await this.control.query('UNLOCK TABLES');
      this.lockReleasedAt = performance.now();
    }
    return Math.round(this.lockReleasedAt - this.lockedAt);
  }

  /** The control connection, for work outside the snapshot (grants, chunk bounds). */
  get controlDb(): Db {
    return this.control;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.control, ...this.workers].map((db) => db.close()));
  }

  destroy(): void {
    [this.control, ...this.workers].forEach((db) => db.destroy());
  }
}

export async function prepareSession(db: Db): Promise<void> {
  await db.query(
    "SET SESSION time_zone = '+00:00', SESSION sql_mode = '', SESSION net_write_timeout = 3600, SESSION net_read_timeout = 3600, " +
      'SESSION wait_timeout = 86400, SESSION max_statement_time = 0, SESSION group_concat_max_len = 1048576',
  );
  await db.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
}

async function readBinlog(db: Db): Promise<BinlogPosition | null> {
  const rows = await db.query<{ File: string; Position: string | number }>('SHOW MASTER STATUS');
  if (rows.length === 0) return null;
  const [{ gtid }] = (await db.query<{ gtid: string }>('SELECT @@GLOBAL.gtid_binlog_pos AS gtid')) as [{ gtid: string }];
  return { file: rows[0]!.File, position: Number(rows[0]!.Position), gtid: gtid ?? '' };
}
