import { quoteIdent } from './connection.js';

/**
 * Each row becomes one line of SQL values, `(v1,v2,...)`. Two renderings give the same bytes:
 * - `expression`, SQL the server evaluates: recomputes a restored table's figures;
 * - `selectList` + `kinds`: what the dump selects and renders from the raw row bytes in one
 *   pass (src/dump/table-data.ts), with no per-field objects (docs/design.md: per-field JavaScript caps
 *   a dump near 48 MB/s; evaluating the expression on the server cost 20 CPU-s for 2M CDRs,
 *   plain SELECT 8 CPU-s).
 * Every rendering is chosen so that loading the text gives back the same bits:
 * - text: QUOTE() escapes \, ', NUL and ^Z; newlines are escaped too, so one row is exactly one
 *   line (the loader relies on that; a carriage return stays as it is);
 * - text in a charset other than utf8 is converted to utf8mb4 (lossless), the load converts back.
 *   utf8mb3 text is left alone: its bytes are already utf8mb4's, and converting it costs the
 *   server more than all the rest of the row (measured: 2M CDRs, 28 s against 20 s);
 * - binary strings and spatial values: X'hex' (bytes arrive and leave unconverted);
 * - FLOAT: rendered through DOUBLE, since FLOAT's own rendering keeps only 6 digits;
 *   DOUBLE's rendering round-trips (measured on 10.11);
 * - BIT: its integer value; temporal values: quoted text with all fractional digits, read and
 *   written with time_zone '+00:00' so TIMESTAMP is exact.
 * Generated columns are left out (the server computes them again).
 */
export interface ColumnInfo {
  name: string;
  dataType: string;
  columnType: string;
  charset: string | null;
  generated: boolean;
}

const NUMERIC = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'numeric', 'double', 'real']);
const BINARY = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection']);
const UTF8 = new Set(['utf8mb4', 'utf8mb3', 'utf8']);
const TEMPORAL = new Set(['date', 'datetime', 'timestamp', 'time', 'year']);

/**
 * How the dump renders a field that arrives raw from `SELECT <selectList>` (text protocol,
 * character_set_results=binary), so that JavaScript produces exactly the bytes the server's
 * `expression` gives: the same figures either way.
 * - raw: digits as sent (numbers, FLOAT through DOUBLE, BIT through +0);
 * - text: quoted the way QUOTE() does, with the newline escaped as well;
 * - hex: X'..' with upper-case digits (HEX()).
 * NULL is the word NULL for every kind.
 */
export const enum FieldKind {
  raw = 0,
  text = 1,
  hex = 2,
}

export interface Field {
  /** What the dump selects for the column. */
  select: string;
  /** How the dump renders what arrives. */
  kind: FieldKind;
  /** The same rendering as SQL: recomputes the figures on a restored table. */
  expression: string;
}

/** One column's two renderings, from one classification of its type. */
export function fieldOf(column: ColumnInfo): Field {
  const c = quoteIdent(column.name);
  const type = column.dataType.toLowerCase();
  const raw = (select: string): Field => ({ select, kind: FieldKind.raw, expression: `IFNULL(${select},'NULL')` });
  if (NUMERIC.has(type)) return raw(c);
  if (type === 'float') return raw(`CAST(${c} AS DOUBLE)`);
  if (type === 'bit') return raw(`${c}+0`);
  if (BINARY.has(type) || column.charset === 'binary') {
    return { select: c, kind: FieldKind.hex, expression: `IF(${c} IS NULL,'NULL',CONCAT('X''',HEX(${c}),''''))` };
  }
  // Temporal text never holds a newline: no REPLACE.
  if (TEMPORAL.has(type)) return { select: c, kind: FieldKind.text, expression: `QUOTE(${c})` };
  const text = column.charset && !UTF8.has(column.charset) ? `CONVERT(${c} USING utf8mb4)` : c;
  return { select: text, kind: FieldKind.text, expression: `REPLACE(QUOTE(${text}),'\\n','\\\\n')` };
}

export interface RowFormat {
  /** `(`a`,`b`)`: the columns a data file inserts, in order. */
  columnList: string;
  /** SQL expression rendering one row as `(v1,...)`: recomputes the figures on a restored table. */
  expression: string;
  /** What the dump selects: one field per inserted column, rendered in JavaScript by kinds. */
  selectList: string;
  kinds: FieldKind[];
}

export function rowFormat(columns: ColumnInfo[]): RowFormat {
  const stored = columns.filter((c) => !c.generated);
  const fields = stored.map(fieldOf);
  const parts: string[] = [];
  fields.forEach((field, i) => {
    parts.push(i === 0 ? "'('" : "','", field.expression);
  });
  parts.push("')'");
  return {
    columnList: '(' + stored.map((c) => quoteIdent(c.name)).join(',') + ')',
    expression: `CONCAT(${parts.join(',')})`,
    selectList: fields.map((f) => f.select).join(','),
    kinds: fields.map((f) => f.kind),
  };
}
