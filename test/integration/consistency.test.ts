import test from 'ava';
import path from 'node:path';
import { connect, type Db } from '../../src/mysql/connection.js';
import { decryptWithCli, startTestNode, type TestNode } from '../helpers/node.js';
import type { SnapshotDetails } from '../../src/format/details.js';

// Invariant 1: every table of every database from one instant, MyISAM included. A writer
// commits pairs of rows into two InnoDB tables in different databases, then writes a pair
// into two MyISAM tables (atomically, under LOCK TABLES); every snapshot must show
// a == b, m1 == m2, and m1 in {a - 1, a}.
let node: TestNode;
test.before(async () => {
  node = await startTestNode({ cdrRows: 20_000 });
});
test.after.always(async () => node?.stop());

test('snapshots taken under concurrent writes keep cross-database and MyISAM invariants', async (t) => {
  const setup = await connect({ socket: node.server.socket, user: 'root', describe: 'setup' }, { multipleStatements: true });
  await setup.query(`CREATE DATABASE pair1; CREATE DATABASE pair2;
    CREATE TABLE pair1.a (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;
    CREATE TABLE pair2.b (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;
    CREATE TABLE pair1.m1 (id INT PRIMARY KEY) ENGINE=MyISAM;
    CREATE TABLE pair2.m2 (id INT PRIMARY KEY) ENGINE=MyISAM;`);
  await setup.close();

  const writer: Db = await connect({ socket: node.server.socket, user: 'root', describe: 'writer' });
  let stop = false;
  let written = 0;
  const writing = (async () => {
    for (let i = 1; !stop; i++) {
      await writer.query('START TRANSACTION');
      await writer.query('INSERT INTO pair1.a VALUES (?, ?)', [i, `a${i}`]);
      await writer.query('INSERT INTO pair2.b VALUES (?, ?)', [i, `b${i}`]);
      await writer.query('COMMIT');
      await writer.query('LOCK TABLES pair1.m1 WRITE, pair2.m2 WRITE');
      await writer.query('INSERT INTO pair1.m1 VALUES (?)', [i]);
      await writer.query('INSERT INTO pair2.m2 VALUES (?)', [i]);
      await writer.query('UNLOCK TABLES');
      written = i;
    }
  })();

  const config = await node.writeConfig({ ...node.baseConfig(), mysql: { socket: node.server.socket, defaults_file: '/etc/mysql/debian.cnf', exclude: [] } }, 'all.yml');
  const seen: Array<Record<string, number>> = [];
  try {
    for (let run = 0; run < 4; run++) {
      await new Promise((r) => setTimeout(r, 150));
      const r = await node.cli(['backup', '--json'], { config });
      t.is(r.code, 0, r.stderr);
      const { id } = JSON.parse(r.stdout) as { id: string };
      const file = path.join(node.repoDir, 'snapshots/spce', id, 'details.json.age');
      const details = JSON.parse((await decryptWithCli(file, node.identityFile, false)).toString()) as SnapshotDetails;
      const rows = (db: string, table: string): number => details.databases.find((d) => d.name === db)!.tables.find((x) => x.name === table)!.rows!;
      const counts = { a: rows('pair1', 'a'), b: rows('pair2', 'b'), m1: rows('pair1', 'm1'), m2: rows('pair2', 'm2') };
      seen.push(counts);
      t.is(counts.a, counts.b, `run ${run}: InnoDB pair across databases`);
      t.is(counts.m1, counts.m2, `run ${run}: MyISAM pair`);
      t.true(counts.m1 === counts.a || counts.m1 === counts.a - 1, `run ${run}: MyISAM copied at the same instant as InnoDB (${JSON.stringify(counts)})`);
      t.true(details.lockMs >= 0);
      // The syslog MERGE table and its MyISAM bases are in this snapshot (exclude: []).
      const syslog = details.databases.find((d) => d.name === 'syslog')!;
      t.true(syslog.tables.some((x) => !x.hasData), 'the MERGE table is schema only');
    }
  } finally {
    stop = true;
    await writing;
    await writer.close();
  }
  t.true(written > 0);
  t.true(seen.at(-1)!.a > seen[0]!.a, `writes went on between snapshots: ${JSON.stringify(seen)}`);
});
