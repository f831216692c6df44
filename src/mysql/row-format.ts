import { quoteIdent } from './connection.js';

/**
 * The server formats each row as one line of SQL values, `(v1,v2,...)`, so that no JavaScript
 * touches individual fields (DESIGN.md: per-field JavaScript caps a dump near 48 MB/s).
 * Every rendering is chosen so that loading the text gives back the same bits:
 * - text: QUOTE() escapes \, ', NUL and ^Z; newlines and carriage returns are escaped too, so
 *   one row is exactly one line (the loader and the checksum rely on that);
 * - text in a charset other than utf8mb4 is converted to utf8mb4 (lossless), the load converts back;
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
const TEMPORAL = new Set(['date', 'datetime', 'timestamp', 'time', 'year']);

export function columnExpression(column: ColumnInfo): string {
  const c = quoteIdent(column.name);
  const type = column.dataType.toLowerCase();
  if (NUMERIC.has(type)) return `IFNULL(${c},'NULL')`;
  if (type === 'float') return `IFNULL(CAST(${c} AS DOUBLE),'NULL')`;
  if (type === 'bit') return `IFNULL(${c}+0,'NULL')`;
  if (BINARY.has(type) || column.charset === 'binary') return `IF(${c} IS NULL,'NULL',CONCAT('X''',HEX(${c}),''''))`;
  if (TEMPORAL.has(type)) return `QUOTE(${c})`;
  const text = column.charset && column.charset !== 'utf8mb4' ? `CONVERT(${c} USING utf8mb4)` : c;
  return `REPLACE(REPLACE(QUOTE(${text}),'\\n','\\\\n'),'\\r','\\\\r')`;
}

export interface RowFormat {
  /** `(`a`,`b`)`: the columns a data file inserts, in order. */
  columnList: string;
  /** SQL expression rendering one row as `(v1,...)`. */
  expression: string;
}

export function rowFormat(columns: ColumnInfo[]): RowFormat {
  const stored = columns.filter((c) => !c.generated);
  const parts: string[] = [];
  stored.forEach((column, i) => {
    parts.push(i === 0 ? "'('" : "','", columnExpression(column));
  });
  parts.push("')'");
  return {
    columnList: '(' + stored.map((c) => quoteIdent(c.name)).join(',') + ')',
    expression: `CONCAT(${parts.join(',')})`,
  };
}
