import { once } from 'node:events';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import mysql from 'mysql2';
import type { Connection, FieldPacket, QueryOptions } from 'mysql2';
import { DatabaseError } from '../errors.js';
import type { MysqlTarget } from './credentials.js';

/**
 * A thin promise wrapper over one mysql2 connection: the only module that touches mysql2 and its
 * internals (row packets for the dump, the socket for LOAD DATA's backpressure).
 */
export class Db {
  private closed = false;
  constructor(readonly raw: Connection, readonly target: MysqlTarget) {
    // An idle connection that dies must not crash the process; the next query reports it.
    raw.on('error', () => {});
  }

  /** The server's id of this connection (information_schema.PROCESSLIST.ID). */
  get threadId(): number {
    return this.raw.threadId ?? 0;
  }

  query<T = Record<string, unknown>>(sql: string | QueryOptions, values?: unknown[]): Promise<T[]> {
    return this.run<T>(sql, values, typeof sql === 'string' ? sql : sql.sql);
  }

  /**
   * A statement whose text must not appear in an error: accounts (password hashes), rows
   * (subscriber data), ALTER USER. `what` names it instead.
   */
  querySecret(sql: string | QueryOptions, what: string): Promise<unknown[]> {
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
   * Runs a query and hands each row's text-protocol payload, buf[start, end), to onRow, as it
   * arrives: mysql2 parses no field and builds no row object (docs/design.md: per-field JavaScript
   * caps a dump near 48 MB/s). pause()/resume() stop and restart reading from the server.
   * Resolves when the last row was handed over; rejects on a query error, an error thrown by
   * onRow, or the connection dying (mysql2 tells a streaming query nothing then: it would wait
   * forever).
   */
  rowPackets(sql: string, onRow: (buf: Buffer, start: number, end: number) => void): { done: Promise<void>; pause(): void; resume(): void } {
    const raw = this.raw as unknown as RawConnection;
    let failure: unknown;
    const query = raw.query({ sql }) as unknown as RawQuery;
    const parentRow = Object.getPrototypeOf(query).row as RawQuery['row'];
    // The command's state machine calls the function its previous state returned; after the
    // column definitions that is `this.row`, so an own `row` takes every row packet.
    const row: RawQuery['row'] = function (this: RawQuery, packet, connection) {
      if (packet.isEOF()) return parentRow.call(this, packet, connection);
      if (failure === undefined) {
        try {
          onRow(packet.buffer, packet.offset, packet.end);
        } catch (error) {
          failure = error;
        }
      }
      return row;
    };
    query.row = row;
    const done = new Promise<void>((resolve, reject) => {
      const settle = (error?: unknown): void => {
        this.raw.off('error', onDeath);
        this.raw.off('end', onClose);
        if (error !== undefined) reject(error instanceof DatabaseError ? error : databaseError(error, this.target, sql));
        else if (failure !== undefined) reject(failure);
        else resolve();
      };
      const onDeath = (error: unknown): void => settle(error);
      const onClose = (): void => settle(Object.assign(new Error('connection closed'), { code: 'PROTOCOL_CONNECTION_LOST' }));
      this.raw.once('error', onDeath);
      this.raw.once('end', onClose);
      query.once('error', (error: unknown) => settle(error));
      query.once('end', () => settle());
    });
    return { done, pause: () => raw.pause(), resume: () => raw.resume() };
  }

  /**
   * Runs `LOAD DATA LOCAL INFILE ...` (sql) with `data` as the file's content. `what` names the
   * statement in an error instead of its text.
   */
  async loadLocalInfile(sql: string, data: Readable, what: string): Promise<void> {
    const socket = (this.raw as unknown as { stream: Writable }).stream;
    await this.querySecret({ sql, infileStreamFactory: () => throttled(data, socket) } as QueryOptions, what);
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

/**
 * mysql2 writes every chunk of an infile stream to the socket as it comes, whatever the
 * socket has queued: fed faster than the server reads, it would hold the whole file in memory.
 * This passes chunks on only while the socket has less than `limit` bytes waiting.
 */
function throttled(source: Readable, socket: Writable, limit = 4 * 1024 * 1024): Readable {
  const out = new PassThrough({ highWaterMark: 64 * 1024 });
  (async () => {
    for await (const chunk of source) {
      while (socket.writableLength > limit) await once(socket, 'drain');
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
  })().catch((error: unknown) => out.destroy(error as Error));
  return out;
}

/** The parts of mysql2's internals rowPackets relies on (lib/commands/query.js, lib/packets/packet.js). */
interface RawPacket {
  buffer: Buffer;
  offset: number;
  end: number;
  isEOF(): boolean;
}
type RawQuery = NodeJS.EventEmitter & { row: (this: RawQuery, packet: RawPacket, connection: unknown) => unknown };
type RawConnection = { query(options: { sql: string }): unknown; pause(): void; resume(): void };

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
