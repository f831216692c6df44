import { Writable } from 'node:stream';
import { IntegrityError } from '../errors.js';
import type { SnapshotDetails } from '../format/details.js';
import type { ManifestObject } from '../format/manifest.js';
import { splitStatements } from '../mysql/schema-sql.js';

/**
 * What an object holds must be what its manifest entry says it is: a sha256 in the manifest only
 * proves the bytes are the ones the manifest lists, not that they belong under that name (two
 * objects swapped together with their entries pass `verify`). These checks read the plaintext as
 * the full decrypt pass goes through it, before anything is touched:
 *   - a data file's first lines name its table (`-- data of `db`.`t`` and `INSERT INTO `t``,
 *     written by dump/table-data.ts): they must be the table of its entry;
 *   - a schema file creates its database and exactly the tables and sequences the details list;
 *   - an objects file (views, routines, triggers, events) works in its own database only.
 */

/** Enough of a data file to hold its comment, the session settings and the first INSERT header. */
const DATA_HEAD_BYTES = 1024 * 1024;
const IDENT = '`((?:[^`]|``)+)`';

/** A sink for an object's plaintext that fails (IntegrityError) when the content is not what its entry says. */
export function contentCheck(o: ManifestObject, details: SnapshotDetails, where: string): Writable {
  if (o.role === 'data') return new DataHeadCheck(o, where);
  if (o.role === 'schema' || o.role === 'objects') {
    const chunks: Buffer[] = [];
    return new Writable({
      write(chunk: Buffer, _e, done) {
        chunks.push(chunk);
        done();
      },
      final(done) {
        const text = Buffer.concat(chunks).toString('utf8');
        const problem = o.role === 'schema' ? schemaProblem(text, o.database ?? '', details) : objectsProblem(text, o.database ?? '');
        done(problem ? new IntegrityError(`${where} ${problem}; refused before anything was changed`) : undefined);
      },
    });
  }
  return new Writable({ write: (_c, _e, done) => done() });
}

class DataHeadCheck extends Writable {
  private head: Buffer[] = [];
  private headBytes = 0;
  private decided = false;

  constructor(private readonly o: ManifestObject, private readonly where: string) {
    super();
  }

  override _write(chunk: Buffer, _e: BufferEncoding, done: (error?: Error) => void): void {
    if (!this.decided) {
      this.head.push(chunk);
      this.headBytes += chunk.length;
      const text = Buffer.concat(this.head).toString('utf8');
      if (headComplete(text) || this.headBytes >= DATA_HEAD_BYTES) return done(this.decide(text));
    }
    done();
  }

  override _final(done: (error?: Error) => void): void {
    done(this.decided ? undefined : this.decide(Buffer.concat(this.head).toString('utf8')));
  }

  private decide(text: string): Error | undefined {
    this.decided = true;
    this.head = [];
    const problem = dataHeadProblem(text, this.o.database ?? '', this.o.table ?? '');
    return problem ? new IntegrityError(`${this.where} ${problem}; refused before anything was changed`) : undefined;
  }
}

/** Whether the head holds the first INSERT header or a row (or all of a file without rows). */
function headComplete(text: string): boolean {
  return /\n(INSERT INTO |\()/.test(text);
}

/** What is wrong with a data file's first lines for rows of database.table, or undefined. */
export function dataHeadProblem(head: string, database: string, table: string): string | undefined {
  const expected = `${database}.${table}`;
  const lines = head.split('\n');
  const comment = new RegExp(`^-- data of ${IDENT}\\.${IDENT}(?: where |$)`).exec(lines[0] ?? '');
  if (!comment || lines.length < 2) return `does not start like a data file of ngcp-backup (its manifest entry names rows of table ${expected})`;
  const named = `${unquote(comment[1]!)}.${unquote(comment[2]!)}`;
  if (named !== oneLine(expected)) return `holds the rows of table ${named}, but its manifest entry names table ${expected}`;
  const insert = lines.slice(1).find((l) => l.startsWith('INSERT INTO '));
  if (insert !== undefined) {
    const into = new RegExp(`^INSERT INTO ${IDENT} `).exec(insert);
    if (!into || unquote(into[1]!) !== table) return `inserts into ${into ? `table ${unquote(into[1]!)}` : 'another table'}, but its manifest entry names table ${expected}`;
  }
  return undefined;
}

/** What is wrong with a schema file of `database`, or undefined: it must create the tables and sequences the details list. */
export function schemaProblem(text: string, database: string, details: SnapshotDetails): string | undefined {
  const statements = splitStatements(text);
  const created = statements.map((s) => new RegExp(`^CREATE DATABASE (?:IF NOT EXISTS )?${IDENT}`).exec(s)?.[1]).filter((x) => x !== undefined);
  if (created.length !== 1 || unquote(created[0]!) !== database) {
    return `creates ${created.length ? `database ${created.map(unquote).join(', ')}` : 'no database'}, but its manifest entry names the schema of database ${database}`;
  }
  const d = details.databases.find((x) => x.name === database);
  if (!d) return `is the schema of database ${database}, which the details do not list`;
  for (const kind of ['table', 'sequence'] as const) {
    const statement = new RegExp(`^CREATE ${kind.toUpperCase()} ${IDENT}`);
    const got = new Set(statements.map((s) => statement.exec(s)?.[1]).filter((x) => x !== undefined).map(unquote));
    const want = new Set(d.tables.filter((t) => t.kind === kind).map((t) => t.name));
    const missing = [...want].filter((n) => !got.has(n));
    const extra = [...got].filter((n) => !want.has(n));
    if (missing.length) return `does not create the ${kind}s ${list(missing)} of database ${database} that the details list`;
    if (extra.length) return `creates ${kind}s ${list(extra)} in database ${database} that the details do not list`;
  }
  return undefined;
}

/** What is wrong with an objects file of `database`, or undefined: every USE must be of its own database. */
export function objectsProblem(text: string, database: string): string | undefined {
  const used = splitStatements(text)
    .map((s) => new RegExp(`^USE ${IDENT}`).exec(s)?.[1])
    .filter((x) => x !== undefined)
    .map(unquote);
  const other = used.filter((u) => u !== database);
  if (used.length === 0 || other.length) {
    return `works in ${other.length ? `database ${list(other)}` : 'no database'}, but its manifest entry names the views, routines, triggers and events of database ${database}`;
  }
  return undefined;
}

function unquote(quoted: string): string {
  return quoted.replace(/``/g, '`');
}

/** The dump writes names with a newline as one comment line (the newline as a space). */
function oneLine(name: string): string {
  return name.replace(/[\r\n]/g, ' ');
}

function list(names: string[]): string {
  return names.slice(0, 5).join(', ') + (names.length > 5 ? ` and ${names.length - 5} more` : '');
}
