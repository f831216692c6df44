import { Transform, type TransformCallback } from 'node:stream';
import { IntegrityError } from '../errors.js';

/**
 * Splits a data file written by TableData (src/dump/table-data.ts) into statements. Every row is one line and a
 * statement ends at a line ending in ';' (row text cannot contain a raw newline), so no SQL
 * parsing is needed; comment lines are dropped. Emits one string per statement; memory is one
 * statement (about 1 MiB) plus one read chunk.
 */
export class StatementSplitter extends Transform {
  private carry: Buffer = Buffer.alloc(0);
  private parts: Buffer[] = [];

  constructor() {
    super({ readableObjectMode: true, readableHighWaterMark: 4 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.carry = eachLine(this.carry, chunk, (buf, start, end) => this.line(buf.subarray(start, end)));
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.carry.length) this.line(this.carry);
    if (this.parts.length) {
      done(new IntegrityError('a data file ends in the middle of a statement (truncated)'));
      return;
    }
    done();
  }

  private line(line: Buffer): void {
    if (this.parts.length === 0 && (line.length === 0 || (line[0] === 45 && line[1] === 45))) return; // blank, "--"
    this.parts.push(line);
    if (line[line.length - 1] === 59) {
      // ';'
      this.push(Buffer.concat(this.parts.flatMap((p, i) => (i === 0 ? [p] : [NL, p]))).toString('utf8'));
      this.parts = [];
    }
  }
}

const NL = Buffer.from('\n');

/**
 * Calls fn with each complete line of carry + chunk, as buf[start, end) without its newline,
 * and returns a copy of what follows the last newline (the next call's carry).
 */
export function eachLine(carry: Buffer, chunk: Buffer, fn: (buf: Buffer, start: number, end: number) => void): Buffer {
  const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
  let start = 0;
  for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
    fn(buf, start, nl);
    start = nl + 1;
  }
  return Buffer.from(buf.subarray(start));
}
