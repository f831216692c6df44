import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { IntegrityError } from '../errors.js';
import { quoteIdent, quoteString, type Db } from '../mysql/connection.js';
import { FieldKind, rowFormat } from '../mysql/row-format.js';
import { eachLine } from './sql-lines.js';

/**
 * Rows through LOAD DATA LOCAL INFILE rather than INSERT: the server parses a plain field list
 * about twice as fast as INSERT statements (docs/design.md, "Measured facts": 17.1 s against 40.8 s for 2M rows).
 *
 * A data file's row lines, `(v1,'text',NULL),`, already are what LOAD DATA reads with
 * FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\'' ESCAPED BY '\\': QUOTE()'s escapes
 * (\\ \' \0 \Z) and the escaped newline are LOAD DATA's own, and an unquoted NULL is NULL.
 * LoadDataLines only drops the parentheses and the separator of each line, and the lines
 * that are not rows. Two renderings do not read back the same way and keep INSERT: X'..' for
 * binary strings and BIT's integer (loadDataColumns says so). Whatever the path, the restored
 * figures are recomputed and compared with the snapshot's.
 */

/**
 * The inserted columns of a restored table (the dump's rowFormat of it, which the data file's
 * INSERT header must repeat), or null when one of them needs INSERT.
 */
export async function loadDataColumns(db: Db, database: string, table: string): Promise<string | null> {
  const columns = await db.query<{ name: string; dataType: string; columnType: string; charset: string | null; generated: string }>(
    'SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType, CHARACTER_SET_NAME AS charset, IS_GENERATED AS generated ' +
      'FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [database, table],
  );
  const all = columns.map((c) => ({ ...c, generated: c.generated === 'ALWAYS' }));
  // BIT is dumped as its integer, which LOAD DATA would store as text; X'..' it would store as is.
  if (all.some((c) => !c.generated && c.dataType === 'bit')) return null;
  const format = rowFormat(all);
  if (format.kinds.length === 0 || format.kinds.includes(FieldKind.hex)) return null;
  return format.columnList;
}

/** Whether the server takes LOAD DATA LOCAL INFILE at all (local_infile may be off on a node). */
export async function localInfileAllowed(db: Db): Promise<boolean> {
  const [row] = await db.query<{ v: number | string }>('SELECT @@GLOBAL.local_infile AS v');
  return Number(row?.v) === 1;
}

/**
 * Loads one data file (its plaintext) into database.table with LOAD DATA; columnList is
 * loadDataColumns' answer and must match the file's INSERT header.
 */
export async function loadDataFile(db: Db, database: string, table: string, columnList: string, source: Readable, what: string): Promise<void> {
  const lines = new LoadDataLines(columnList);
  // The file flows before the server asks for it: an error (a source failure, a line that is
  // not a row) is kept here, ends the LOAD DATA, and is what the caller gets.
  let failure: unknown;
  lines.once('error', (error) => (failure ??= error));
  source.once('error', (error) => lines.destroy(error));
  source.pipe(lines);
  const sql =
    `LOAD DATA LOCAL INFILE ${quoteString(`${database}.${table}`)} INTO TABLE ${quoteIdent(database)}.${quoteIdent(table)} CHARACTER SET utf8mb4 ` +
    "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '''' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' " +
    columnList;
  try {
    await db.loadLocalInfile(sql, lines, what);
  } catch (error) {
    throw failure ?? error;
  } finally {
    source.destroy();
  }
  if (failure !== undefined) throw failure;
}

/**
 * A data file (see src/dump/table-data.ts) in, LOAD DATA lines out: `(v1,...,vn),` or `(...);`
 * becomes `v1,...,vn` and a newline; comments, SET and the INSERT header lines are dropped.
 * Every row line is one line: the dump escapes newlines.
 */
export class LoadDataLines extends Transform {
  private carry: Buffer = Buffer.alloc(0);
  private readonly header: Buffer;

  constructor(columnList: string) {
    super({ highWaterMark: 1024 * 1024 });
    this.header = Buffer.from(` ${columnList} VALUES`);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    // A row line only shrinks: the output fits in the input's size.
    const out = Buffer.allocUnsafe(this.carry.length + chunk.length);
    let o = 0;
    try {
      this.carry = eachLine(this.carry, chunk, (buf, start, end) => {
        o = this.line(buf, start, end, out, o);
      });
    } catch (error) {
      done(error as Error);
      return;
    }
    if (o > 0) this.push(out.subarray(0, o));
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.carry.length) {
      done(new IntegrityError('a data file ends in the middle of a row (truncated)'));
      return;
    }
    done();
  }

  /** Copies the row of buf[start, end) into out at o; returns the new end of out. */
  private line(buf: Buffer, start: number, end: number, out: Buffer, o: number): number {
    if (end === start) return o;
    const first = buf[start];
    if (first === 0x28) {
      // ( ... ), or ( ... );
      const sep = buf[end - 1];
      if (end - start < 3 || buf[end - 2] !== 0x29 || (sep !== 0x2c && sep !== 0x3b)) {
        throw new IntegrityError('a data file has a row line that does not end in ")," or ");"');
      }
      buf.copy(out, o, start + 1, end - 2);
      o += end - 2 - start - 1;
      out[o++] = 0x0a;
      return o;
    }
    if (first === 0x2d || first === 0x53) return o; // "-- comment", "SET ..."
    if (first === 0x49) {
      // INSERT INTO `t` (`a`,...) VALUES: the columns must be the ones LOAD DATA names.
      const line = buf.subarray(start, end);
      if (line.indexOf(this.header) < 0 || line.indexOf(this.header) + this.header.length !== line.length) {
        throw new IntegrityError("a data file's columns differ from the restored table's");
      }
      return o;
    }
    throw new IntegrityError('a data file has a line that is neither a row, an INSERT header, SET nor a comment');
  }
}
