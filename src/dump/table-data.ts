import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { DatabaseError } from '../errors.js';
import { quoteIdent, type Db } from '../mysql/connection.js';
import { FieldKind } from '../mysql/row-format.js';
import type { TableFigures } from '../format/details.js';

export const DATA_PREAMBLE =
  "SET NAMES utf8mb4;\nSET time_zone='+00:00';\nSET sql_mode='NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION';\n" +
  'SET foreign_key_checks=0;\nSET unique_checks=0;\n';

const BLOCK_BYTES = 256 * 1024;
const STATEMENT_BYTES = 1024 * 1024;

/** What feeds a TableData: pausing it stops rows arriving (the connection stops reading). */
export interface RowSource {
  pause(): void;
  resume(): void;
}

/**
 * A SQL data file made from a query's raw rows, loadable by `mariadb` as it is:
 *   INSERT INTO `t` (`a`,`b`) VALUES
 *   (1,'x'),
 *   (2,'y');
 * One row per line; statements of about 1 MiB. Each row arrives as its text-protocol payload
 * (length-prefixed fields, see rowFormat's selectList) and is rendered here in one pass over its
 * bytes, with no per-field objects: the bytes are exactly what the server's row expression gives,
 * so the rows and the sum of their CRC32 are the figures SUM(CRC32(expression)) recomputes.
 */
export class TableData extends Readable {
  private block: Buffer = Buffer.allocUnsafe(BLOCK_BYTES);
  private pos = 0;
  private statementBytes = 0;
  private rows = 0;
  private crcSmall = 0;
  private crcBig = 0n;
  private readonly insert: Buffer;
  private source: RowSource | null = null;
  private paused = false;

  constructor(private readonly table: string, columnList: string, private readonly kinds: readonly FieldKind[], comment: string) {
    super({ highWaterMark: 256 * 1024 });
    this.insert = Buffer.from(`INSERT INTO ${quoteIdent(table)} ${columnList} VALUES\n`);
    // A name with a newline must not end the comment line.
    this.append(Buffer.from(`-- ${comment.replace(/[\r\n]/g, ' ')}\n${DATA_PREAMBLE}`));
  }

  figures(): TableFigures {
    return { rows: this.rows, checksum: (this.crcBig + BigInt(this.crcSmall)).toString() };
  }

  /** Connects the source that backpressure pauses and resumes. */
  attach(source: RowSource): void {
    this.source = source;
  }

  /** One row: the packet payload buf[start, end). */
  row(buf: Buffer, start: number, end: number): void {
    if (this.destroyed) return;
    const kinds = this.kinds;
    // Worst case: every byte escaped or hex (2x), NULL (4) per field, separators.
    const bound = 2 * (end - start) + 6 * kinds.length + 8;
    if (this.statementBytes === 0) {
      this.append(this.insert);
      this.statementBytes = this.insert.length;
    } else {
      this.append(COMMA);
    }
    this.reserve(bound);
    const out = this.block;
    let o = this.pos;
    const rowStart = o;
    let p = start;
    out[o++] = 0x28; // (
    for (let i = 0; i < kinds.length; i++) {
      if (i > 0) out[o++] = 0x2c; // ,
      let len = buf[p++]!;
      if (len === 0xfb) {
        out[o++] = 0x4e; // NULL
        out[o++] = 0x55;
        out[o++] = 0x4c;
        out[o++] = 0x4c;
        continue;
      }
      if (len >= 0xfc) {
        if (len === 0xfc) {
          len = buf[p]! | (buf[p + 1]! << 8);
          p += 2;
        } else if (len === 0xfd) {
          len = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16);
          p += 3;
        } else {
          len = buf.readUInt32LE(p) + buf.readUInt32LE(p + 4) * 2 ** 32;
          p += 8;
        }
      }
      const fieldEnd = p + len;
      if (fieldEnd > end) throw new DatabaseError(`a row of ${this.table} arrived truncated (field ${i + 1})`);
      const kind = kinds[i];
      if (kind === FieldKind.raw) {
        while (p < fieldEnd) out[o++] = buf[p++]!;
      } else if (kind === FieldKind.text) {
        out[o++] = 0x27;
        while (p < fieldEnd) {
          const c = buf[p++]!;
          if (c > 0x5c || ESCAPE[c] === 0) {
            out[o++] = c;
          } else {
            out[o++] = 0x5c;
            out[o++] = ESCAPE[c]!;
          }
        }
        out[o++] = 0x27;
      } else {
        out[o++] = 0x58; // X'
        out[o++] = 0x27;
        o += out.write(buf.toString('hex', p, fieldEnd).toUpperCase(), o, 'latin1');
        p = fieldEnd;
        out[o++] = 0x27;
      }
    }
    out[o++] = 0x29; // )
    if (p !== end) throw new DatabaseError(`a row of ${this.table} has ${kinds.length} fields expected, the server sent more`);
    this.rows++;
    this.crcSmall += crc32(out.subarray(rowStart, o));
    if (this.crcSmall > 2 ** 52) {
      this.crcBig += BigInt(this.crcSmall);
      this.crcSmall = 0;
    }
    this.statementBytes += o - this.pos;
    this.pos = o;
    if (this.statementBytes >= STATEMENT_BYTES) this.endStatement();
    if (this.pos >= BLOCK_BYTES) this.flush();
  }

  /**
   * No more rows: closes the last statement and ends the stream. The source is let go first:
   * a connection left paused would never read the answer to its next query.
   */
  finish(): void {
    if (this.paused) this.source?.resume();
    this.paused = false;
    this.source = null;
    if (this.statementBytes > 0) this.endStatement();
    this.flush();
    this.push(null);
  }

  override _read(): void {
    if (this.paused) {
      this.paused = false;
      this.source?.resume();
    }
  }

  private endStatement(): void {
    this.append(SEMI);
    this.statementBytes = 0;
  }

  private append(b: Buffer): void {
    this.reserve(b.length);
    b.copy(this.block, this.pos);
    this.pos += b.length;
    if (this.statementBytes > 0) this.statementBytes += b.length;
  }

  /** Makes room for n more bytes in the current block. */
  private reserve(n: number): void {
    if (this.pos + n <= this.block.length) return;
    this.flush();
    if (n > this.block.length) this.block = Buffer.allocUnsafe(n);
  }

  private flush(): void {
    if (this.pos === 0) return;
    const full = this.push(this.block.subarray(0, this.pos));
    this.block = Buffer.allocUnsafe(BLOCK_BYTES);
    this.pos = 0;
    if (!full && !this.paused && this.source) {
      this.paused = true;
      this.source.pause();
    }
  }
}

/**
 * Runs `SELECT <selectList> ...` on db into data, then ends it; a failure (query, connection,
 * a malformed row) destroys data with the error. Results come unconverted (character_set_results
 * NULL): binary bytes stay bytes, and text selected as utf8 arrives as the server holds it.
 */
export async function feedRows(db: Db, sql: string, data: TableData): Promise<void> {
  try {
    await db.query('SET SESSION character_set_results = NULL');
    const source = db.rowPackets(sql, (buf, start, end) => data.row(buf, start, end));
    data.attach(source);
    // The reader gave up (an upload failed, SIGTERM): stop the query rather than drain it.
    const closed = new Promise<never>((_, reject) =>
      data.once('close', () => {
        if (!data.readableEnded) db.destroy();
        reject(data.errored ?? new DatabaseError('the dump stream was closed before the rows were read'));
      }),
    );
    closed.catch(() => {});
    source.done.catch(() => {});
    await Promise.race([source.done, closed]);
    await db.query('SET SESSION character_set_results = utf8mb4');
    data.finish();
  } catch (error) {
    data.destroy(error as Error);
    throw error;
  }
}

/** QUOTE()'s escapes (\\ \' \0 \Z) and the newline: ESCAPE[byte] is the letter after the backslash. */
const ESCAPE = new Uint8Array(0x5d);
ESCAPE[0x5c] = 0x5c;
ESCAPE[0x27] = 0x27;
ESCAPE[0x00] = 0x30;
ESCAPE[0x1a] = 0x5a;
ESCAPE[0x0a] = 0x6e;

const COMMA = Buffer.from(',\n');
const SEMI = Buffer.from(';\n');
