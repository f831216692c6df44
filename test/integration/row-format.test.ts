import test from 'ava';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connect, connectForRows, type Db } from '../../src/mysql/connection.js';
import { listDatabases } from '../../src/mysql/catalog.js';
import { rowFormat, type RowFormat } from '../../src/mysql/row-format.js';
import { loadDataColumns, loadDataFile, localInfileAllowed } from '../../src/load/load-data.js';
import { feedRows, TableData } from '../../src/dump/table-data.js';
import { startMariadbInstance, type MariadbInstance } from '../../testkit/scratch-mariadb.js';
import type { TableFigures } from '../../src/format/details.js';

// Every column type NGCP uses (and some it might), with the values that break naive dumps,
// must come back bit-exact through: the row text rendered from raw packets -> SQL file -> load
// (INSERT, and LOAD DATA where it applies).
let server: MariadbInstance;
let db: Db;

test.before(async () => {
  server = await startMariadbInstance();
  db = await connect({ socket: server.socket, user: 'root', describe: 'scratch' }, { multipleStatements: true });
  await db.query(`SET sql_mode=''; CREATE DATABASE src; CREATE DATABASE dst;
    CREATE TABLE src.t (
      id INT PRIMARY KEY, u BIGINT UNSIGNED, d DECIMAL(65,30), f FLOAT, g DOUBLE, b BIT(8),
      c CHAR(3), v VARCHAR(200) CHARACTER SET utf8mb3, m VARCHAR(200) CHARACTER SET utf8mb4, l VARCHAR(50) CHARACTER SET latin1,
      e ENUM('call','sms',''), s SET('a','b','c'), j JSON, bin BINARY(4), vb VARBINARY(64), bl MEDIUMBLOB, tx TEXT,
      dt DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, dz DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00', tm TIME(6), y YEAR, dd DATE,
      gen INT AS (id * 2) VIRTUAL
    ) DEFAULT CHARSET=utf8mb3`);
  await db.query(`INSERT INTO src.t (id,u,d,f,g,b,c,v,m,l,e,s,j,bin,vb,bl,tx,dt,ts,dz,tm,y,dd) VALUES
    (1, 18446744073709551615, -12345678901234567890.123456789012345678901234567890, 1.17549435e-38, 1e0/3e0, b'10101010',
     'abc', 'Zürich\\n\\r\\t\\\\\\'"; DROP', '😀 emoji', CONVERT('café' USING latin1), 'sms', 'a,c', '{"k": [1, "two"]}',
     X'00FF0A0D', X'', X'000102030A0D5C27', 'line1\\nline2', '2024-05-17 10:25:01.123456', '2038-01-19 03:14:07.999', '0000-00-00 00:00:00', '-838:59:59.000000', 2155, '1000-01-01'),
    (2, 0, 0, -0, 0.30000000000000004e0, 0, '', '', '', '', '', '', NULL, NULL, NULL, NULL, '', '0000-00-00 00:00:00', NULL, '2024-02-29 23:59:59', '00:00:00', NULL, NULL),
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '1970-01-01 00:00:01', '2024-01-01', NULL, NULL, NULL)`);
  await db.query(`INSERT INTO src.t (id, bl, tx) VALUES (4, REPEAT(X'00FF', 100000), REPEAT('x\\n', 1000))`);
});

test.after.always(async () => {
  await db?.close();
  await server?.stop();
});

test('every type round-trips bit-exactly through the row text and the SQL file', async (t) => {
  const [database] = await listDatabases(db, ['dst']);
  const table = database!.tables.find((x) => x.name === 't')!;
  const format = rowFormat(table.columns);
  t.false(format.columnList.includes('`gen`'), 'generated columns are not inserted');

  const dumped = await dumpRows(db, 't', format, 'src.t');
  const sql = dumped.sql.toString('utf8');
  const lines = sql.split('\n').filter((l) => l.startsWith('('));
  for (const line of lines) t.regex(line, /^\(.*\)[,;]$/s, 'one row per line (a carriage return may stay raw)');
  // The rendering in JavaScript gives exactly the bytes of the server's row expression.
  const serverRows = await db.query<{ r: Buffer }>({ sql: `SELECT ${format.expression} AS r FROM src.t`, typeCast: (f: { buffer(): Buffer }) => f.buffer() } as never);
  t.deepEqual(
    lines.map((l) => Buffer.from(l.slice(0, -1), 'utf8')).sort(Buffer.compare),
    serverRows.map((r) => r.r).sort(Buffer.compare),
  );

  await db.query('CREATE TABLE dst.t LIKE src.t');
  const loader = await connect({ socket: server.socket, user: 'root', describe: 'scratch' }, { database: 'dst', multipleStatements: true });
  await loader.query(sql);
  await loader.close();

  const figures = dumped.figures;
  t.is(figures.rows, 4);
  const [restored] = await db.query<{ n: string; s: string }>(`SELECT COUNT(*) AS n, SUM(CRC32(${format.expression})) AS s FROM dst.t`);
  t.is(String(restored!.n), '4');
  t.is(String(restored!.s), figures.checksum, 'the restored table gives the same figures');

  // Not only the same rendering: the same stored bits, column by column.
  const cols = table.columns.map((c) => `HEX(\`${c.name}\`)`).join(',');
  const a = await db.query(`SELECT id, ${cols}, HEX(CAST(f AS BINARY)) AS fb, ts+0 AS tsn FROM src.t ORDER BY id`);
  const b = await db.query(`SELECT id, ${cols}, HEX(CAST(f AS BINARY)) AS fb, ts+0 AS tsn FROM dst.t ORDER BY id`);
  t.deepEqual(b, a);
  const [bits] = await db.query<{ same: number }>('SELECT COUNT(*) AS same FROM src.t s JOIN dst.t d ON s.id = d.id AND s.f <=> d.f AND s.g <=> d.g AND s.bl <=> d.bl AND s.l <=> d.l');
  t.is(Number(bits!.same), 4);
});

test('a row bigger than the server max_allowed_packet (a 10 MB firmware) dumps and loads', async (t) => {
  const small = await startMariadbInstance({ serverArgs: ['--max-allowed-packet=16M'] });
  try {
    const target = { socket: small.socket, user: 'root', describe: 'scratch 16M' };
    const admin = await connect(target);
    await admin.query('CREATE DATABASE fw');
    await admin.query('CREATE TABLE fw.firmware (id INT PRIMARY KEY, data LONGBLOB)');
    await admin.query('INSERT INTO fw.firmware VALUES (1, RANDOM_BYTES(1024))');
    for (let i = 0; i < 10; i++) await admin.query('UPDATE fw.firmware SET data = CONCAT(data, REPEAT(RANDOM_BYTES(1024), 1000)) WHERE id = 1');
    const [database] = await listDatabases(admin, []);
    const format = rowFormat(database!.tables[0]!.columns);
    const [dumper] = await connectForRows(target, 1);
    const chunks = [(await dumpRows(dumper!, 'firmware', format, 'fw.firmware')).sql];
    await dumper!.close();
    t.true(Buffer.concat(chunks).length > 20_000_000, 'the row is over 20 MB of SQL');
    const [{ v }] = (await admin.query<{ v: string }>('SELECT @@GLOBAL.max_allowed_packet AS v')) as [{ v: string }];
    t.is(Number(v), 16 * 1024 * 1024, 'the global setting is put back');

    await admin.query('CREATE TABLE fw.copy LIKE fw.firmware');
    const [loader] = await connectForRows(target, 1);
    await loader!.query('USE fw');
    await loader!.query(Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => !l.startsWith('SET') && !l.startsWith('--')).join('\n').replace('INSERT INTO `firmware`', 'INSERT INTO `copy`'));
    await loader!.close();
    const [same] = await admin.query<{ n: number }>('SELECT COUNT(*) AS n FROM fw.firmware a JOIN fw.copy b ON a.data = b.data');
    t.is(Number(same!.n), 1);
    await admin.close();
  } finally {
    await small.stop();
  }
});

test('every type LOAD DATA takes round-trips bit-exactly through the data file and LOAD DATA', async (t) => {
  // The same columns without BIT and binary strings (those keep INSERT: loadDataColumns says null).
  await db.query(`CREATE TABLE src.ld LIKE src.t`);
  await db.query('ALTER TABLE src.ld DROP COLUMN b, DROP COLUMN bin, DROP COLUMN vb, DROP COLUMN bl');
  await db.query(`SET sql_mode=''`);
  await db.query('INSERT INTO src.ld (id,u,d,f,g,c,v,m,l,e,s,j,tx,dt,ts,dz,tm,y,dd) SELECT id,u,d,f,g,c,v,m,l,e,s,j,tx,dt,ts,dz,tm,y,dd FROM src.t');
  await db.query(`INSERT INTO src.ld (id, v, m, tx) VALUES (5, 'NULL', ' lead, trail ', CONCAT('a', CHAR(92), 'Nb', CHAR(0), CHAR(26), CHAR(92), CHAR(39), ',', CHAR(13), CHAR(10), CHAR(92), 'n'))`);
  t.is(await loadDataColumns(db, 'src', 't'), null, 'BIT and binary columns keep INSERT');
  const columns = await loadDataColumns(db, 'src', 'ld');
  t.truthy(columns);
  const [database] = await listDatabases(db, ['dst']);
  const format = rowFormat(database!.tables.find((x) => x.name === 'ld')!.columns);
  t.is(columns, format.columnList, 'the column list LOAD DATA names is the one the data file inserts');
  const dumped = await dumpRows(db, 'ld', format, 'src.ld');
  await db.query('CREATE TABLE dst.ld LIKE src.ld');
  const [loader] = await connectForRows({ socket: server.socket, user: 'root', describe: 'scratch' }, 1);
  await loader!.query("SET NAMES utf8mb4, time_zone = '+00:00', sql_mode = 'NO_AUTO_VALUE_ON_ZERO'");
  await loadDataFile(loader!, 'dst', 'ld', columns!, Readable.from([dumped.sql]), 'test');
  await loader!.close();
  const [restored] = await db.query<{ n: string; s: string }>(`SELECT COUNT(*) AS n, SUM(CRC32(${format.expression})) AS s FROM dst.ld`);
  t.deepEqual({ rows: Number(restored!.n), checksum: String(restored!.s) }, dumped.figures);
  const [same] = await db.query<{ n: number }>(
    `SELECT COUNT(*) AS n FROM src.ld a JOIN dst.ld b ON a.id = b.id AND ${['u', 'd', 'f', 'g', 'c', 'v', 'm', 'l', 'e', 's', 'j', 'tx', 'dt', 'ts', 'dz', 'tm', 'y', 'dd'].map((c) => `a.${c} <=> b.${c} AND BINARY a.${c} <=> BINARY b.${c}`).join(' AND ')}`,
  );
  t.is(Number(same!.n), 5, 'every value equal, NULL where NULL, the string NULL where the string');

  // A data file whose INSERT header names other columns is refused, not loaded into the wrong ones.
  const [other] = await connectForRows({ socket: server.socket, user: 'root', describe: 'scratch' }, 1);
  const renamed = Buffer.from(dumped.sql.toString('utf8').replace(columns!, columns!.replace('`v`', '`w`')));
  await t.throwsAsync(loadDataFile(other!, 'dst', 'ld', columns!, Readable.from([renamed]), 'test'), { message: /columns differ from the restored table's/ });
  await other!.close();

  // A server with local_infile off gets INSERT statements instead.
  t.true(await localInfileAllowed(db));
  await db.query('SET GLOBAL local_infile = 0');
  t.false(await localInfileAllowed(db));
  await db.query('SET GLOBAL local_infile = 1');
});

/** A table's rows as a SQL data file, the way the dump writes them. */
async function dumpRows(db: Db, table: string, format: RowFormat, from: string): Promise<{ sql: Buffer; figures: TableFigures }> {
  const data = new TableData(table, format.columnList, format.kinds, 'test');
  const chunks: Buffer[] = [];
  await Promise.all([
    feedRows(db, `SELECT ${format.selectList} FROM ${from}`, data),
    pipeline(data, new Writable({ write: (c, _e, done) => (chunks.push(c), done()) })),
  ]);
  return { sql: Buffer.concat(chunks), figures: data.figures() };
}
