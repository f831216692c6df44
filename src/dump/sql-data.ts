import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';
import { DatabaseError } from '../errors.js';
import { quoteIdent } from '../mysql/connection.js';

/** Per-table figures taken inside the snapshot and recomputed after every restore. */
export interface TableFigures {
  rows: number;
  /** Sum over rows of CRC32(row text), as a decimal string: order-independent. */
  checksum: string;
}

export const DATA_PREAMBLE =
  "SET NAMES utf8mb4;\nSET time_zone='+00:00';\nSET sql_mode='NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION';\n" +
  'SET foreign_key_checks=0;\nSET unique_checks=0;\n';

const FLUSH_BYTES = 64 * 1024;
const STATEMENT_BYTES = 1024 * 1024;

/**
 * Turns row lines (one Buffer per row, `(v1,...)`, rendered by the server) into a SQL data
 * file that `mariadb` loads as it is:
 *   INSERT INTO `t` (`a`,`b`) VALUES
 *   (1,'x'),
 *   (2,'y');
 * One row per line; statements of about 1 MiB. Counts rows and sums their CRC32 on the way,
 * the same figure SUM(CRC32(row expression)) gives on a restored table.
 */
export class SqlDataWriter extends Transform {
  private held: Buffer | null = null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private statementBytes = 0;
  private rows = 0;
  private crcSmall = 0;
  private crcBig = 0n;
  private readonly insert: Buffer;

  constructor(private readonly table: string, columnList: string, comment: string) {
    super({ writableObjectMode: true, readableObjectMode: false, writableHighWaterMark: 1024 });
    this.insert = Buffer.from(`INSERT INTO ${quoteIdent(table)} ${columnList} VALUES\n`);
    // A name with a newline must not end the comment line.
    this.pushBytes(Buffer.from(`-- ${comment.replace(/[\r\n]/g, ' ')}\n${DATA_PREAMBLE}`));
  }

  figures(): TableFigures {
    return { rows: this.rows, checksum: (this.crcBig + BigInt(this.crcSmall)).toString() };
  }

  override _transform(row: unknown, _enc: BufferEncoding, done: TransformCallback): void {
    const line = Array.isArray(row) ? row[0] : row;
    if (!Buffer.isBuffer(line)) {
      done(new DatabaseError(`a row of ${this.table} could not be rendered (NULL): larger than the server's max_allowed_packet?`));
      return;
    }
    this.rows++;
    this.crcSmall += crc32(line);
    if (this.crcSmall > 2 ** 52) {
      this.crcBig += BigInt(this.crcSmall);
      this.crcSmall = 0;
    }
    if (this.held) this.emitRow(this.held, false);
    this.held = line;
    if (this.pendingBytes >= FLUSH_BYTES) this.flushPending();
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.held) this.emitRow(this.held, true);
    this.held = null;
    this.flushPending();
    done();
  }

  private emitRow(line: Buffer, last: boolean): void {
    if (this.statementBytes === 0) {
      this.pushBytes(this.insert);
      this.statementBytes = this.insert.length;
    }
    this.pushBytes(line);
    this.statementBytes += line.length + 2;
    const end = last || this.statementBytes >= STATEMENT_BYTES;
    this.pushBytes(end ? SEMI : COMMA);
    if (end) this.statementBytes = 0;
  }

  private pushBytes(b: Buffer): void {
    this.pending.push(b);
    this.pendingBytes += b.length;
  }

  private flushPending(): void {
    if (this.pendingBytes === 0) return;
    this.push(this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending, this.pendingBytes));
    this.pending = [];
    this.pendingBytes = 0;
  }
}

const COMMA = Buffer.from(',\n');
const SEMI = Buffer.from(';\n');
