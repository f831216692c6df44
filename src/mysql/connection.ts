import type { Readable } from 'node:stream';
import mysql from 'mysql2';
import type { Connection, FieldPacket, QueryOptions } from 'mysql2';
import { DatabaseError } from '../errors.js';
import type { MysqlTarget } from './credentials.js';

/**
 * A thin promise wrapper over one mysql2 connection. Streaming queries use `raw` (the
 * callback connection), everything else goes through query().
 */
export class Db {
  private closed = false;
  constructor(readonly raw: Connection, readonly target: MysqlTarget) {
    // An idle connection that dies must not crash the process; the next query reports it.
    raw.on('error', () => {});
  }

  query<T = Record<string, unknown>>(sql: string | QueryOptions, values?: unknown[]): Promise<T[]> {
    return this.run<T>(sql, values, typeof sql === 'string' ? sql : sql.sql);
  }

  /**
   * A statement whose text must not appear in an error: accounts (password hashes), rows
   * (subscriber data), ALTER USER. `what` names it instead.
   */
  querySecret(sql: string, what: string): Promise<unknown[]> {
    return this.run(sql, undefined, undefined, what);
  }

  private run<T>(sql: string | QueryOptions, values: unknown[] | undefined, shown: string | undefined, what?: string): Promise<T[]> {
    return new Promise((resolve, reject) => {
      this.raw.query(sql as QueryOptions, values, (error: unknown, rows: unknown, _fields: FieldPacket[]) => {
        if (!error) resolve(rows as T[]);
        else {
          const e = databaseError(error, this.target, shown);
          if (what) e.message += ` (in ${what})`;
          reject(e);
        }
      });
    });
  }

  /**
   * Streams rows, each an array of raw Buffers (no per-field decoding in JavaScript).
   * mysql2 tells a streaming query nothing when its connection dies (a killed connection, a
   * server restart): the stream would wait forever. So a connection error or close fails it.
   */
  streamRawRows(sql: string, highWaterMark = 512): Readable {
    const rows = this.raw
      .query({ sql, rowsAsArray: true, typeCast: (field: { buffer(): Buffer | null }) => field.buffer() } as QueryOptions)
      .stream({ highWaterMark });
    const fail = (error?: unknown): void => {
      if (!rows.readableEnded) rows.destroy(databaseError(error ?? Object.assign(new Error('connection closed'), { code: 'PROTOCOL_CONNECTION_LOST' }), this.target, sql));
    };
    const onClose = (): void => fail();
    this.raw.once('error', fail);
    this.raw.once('end', onClose);
    rows.once('close', () => {
      this.raw.off('error', fail);
      this.raw.off('end', onClose);
    });
    return rows;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => this.raw.end(() => resolve()));
    this.raw.destroy();
  }

  destroy(): void {
    this.closed = true;
    this.raw.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

export async function connect(target: MysqlTarget, options: { database?: string; multipleStatements?: boolean } = {}): Promise<Db> {
  const raw = mysql.createConnection({
    socketPath: target.socket,
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: options.database,
    multipleStatements: options.multipleStatements ?? false,
    charset: 'utf8mb4_general_ci',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    timezone: 'Z',
    connectTimeout: 10_000,
    flags: ['-FOUND_ROWS'],
  });
  await new Promise<void>((resolve, reject) => {
    raw.connect((error) => (error ? reject(error) : resolve()));
  }).catch((error: unknown) => {
    raw.destroy();
    throw databaseError(error, target);
  });
  return new Db(raw, target);
}

/** Turns a mysql2 error into one clear DatabaseError naming where and what. */
export function databaseError(error: unknown, target: MysqlTarget, sql?: string): DatabaseError {
  const e = error as { code?: string; errno?: number; message?: string; sqlMessage?: string };
  const what = e.sqlMessage ?? e.message ?? String(error);
  let message: string;
  switch (e.code) {
    case 'ECONNREFUSED':
    case 'ENOENT':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
    case 'ENOTFOUND':
      message = `cannot reach ${target.describe}: ${e.code}`;
      break;
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR':
      message = `${target.describe}: access denied (check mysql.user, mysql.defaults_file or mysql.password_file)`;
      break;
    case 'PROTOCOL_CONNECTION_LOST':
    case 'ECONNRESET':
    case 'EPIPE':
      message = `lost the connection to ${target.describe}${sql ? ` during: ${shorten(sql)}` : ''}`;
      break;
    default:
      message = `${target.describe}: ${what}${sql ? ` (in: ${shorten(sql)})` : ''}`;
  }
  return new DatabaseError(message, { cause: error });
}

function shorten(sql: string): string {
  const one = sql.replace(/\s+/g, ' ').trim();
  return one.length > 160 ? `${one.slice(0, 157)}...` : one;
}

const MAX_PACKET = 1024 * 1024 * 1024;

/**
 * Opens `count` connections whose max_allowed_packet is 1 GiB (the maximum). A dumped row is
 * rendered as one value (a 10 MB firmware BLOB is 20 MB of hex) and a loaded statement holds
 * whole rows; the session value is read-only and copied from the global one at connect time,
 * so the global value is raised just while these connect, then put back.
 */
export async function connectForRows(target: MysqlTarget, count: number): Promise<Db[]> {
  const admin = await connect(target);
  const conns: Db[] = [];
  try {
    const [{ v }] = (await admin.query<{ v: string }>('SELECT @@GLOBAL.max_allowed_packet AS v')) as [{ v: string }];
    const raised = Number(v) < MAX_PACKET && (await admin.query(`SET GLOBAL max_allowed_packet = ${MAX_PACKET}`).then(() => true, () => false));
    try {
      for (let i = 0; i < count; i++) conns.push(await connect(target));
    } finally {
      if (raised) await admin.query(`SET GLOBAL max_allowed_packet = ${Number(v)}`);
    }
    return conns;
  } catch (error) {
    conns.forEach((c) => c.destroy());
    throw error;
  } finally {
    await admin.close();
  }
}

export function quoteIdent(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

export function quoteString(value: string): string {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\0/g, '\\0') + "'";
}
