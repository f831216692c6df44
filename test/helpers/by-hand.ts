import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import type { Manifest } from '../../src/format/manifest.js';
import { connect } from '../../src/mysql/connection.js';
import { countSchemaObjects } from '../../src/mysql/schema-sql.js';
import { startMariadbInstance } from '../../testkit/scratch-mariadb.js';
import { decryptWithCli } from './node.js';
import type { SnapshotDetails } from '../../src/format/details.js';

const execFileAsync = promisify(execFile);

/**
 * Turns every object of a snapshot back into SQL and files with nothing but the `age` and
 * `zstd` CLIs, loads the SQL into a fresh MariaDB with the `mariadb` client, and checks every
 * table's figures against the ones taken inside the snapshot. Returns the details.
 */
export async function restoreByHand(
  t: ExecutionContext,
  manifest: Manifest,
  fetchObject: (name: string) => Promise<string>,
  identityFile: string,
): Promise<{ details: SnapshotDetails; filesDir: string; cleanup: () => Promise<void> }> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'ngcp-by-hand-'));
  const plain = async (name: string): Promise<Buffer> => decryptWithCli(await fetchObject(name), identityFile, name !== 'details.json.age');
  const details = JSON.parse((await plain('details.json.age')).toString('utf8')) as SnapshotDetails;

  const filesDir = path.join(work, 'files');
  await mkdir(filesDir);
  const tarFile = path.join(work, 'files.tar');
  await writeFile(tarFile, await plain('files.tar.zst.age'));
  await execFileAsync('tar', ['-xpf', tarFile, '-C', filesDir]);
  await rm(tarFile);

  const server = await startMariadbInstance();
  const load = async (name: string, database?: string): Promise<void> => {
    const sqlFile = path.join(work, 'load.sql');
    await writeFile(sqlFile, await plain(name));
    const args = ['-uroot', `--socket=${server.socket}`, ...(database ? [`--database=${database}`] : []), '-e', `source ${sqlFile}`];
    await execFileAsync('mariadb', args, { maxBuffer: 1 << 26 });
  };
  try {
    const byRole = (role: string) => manifest.objects.filter((o) => o.role === role);
    for (const o of byRole('schema')) await load(o.name);
    for (const o of byRole('data')) await load(o.name, o.database);
    for (const o of byRole('grants')) await load(o.name);
    for (const o of byRole('objects')) await load(o.name);

    const db = await connect({ socket: server.socket, user: 'root', describe: 'by-hand' });
    await db.query("SET time_zone = '+00:00'");
    let checked = 0;
    for (const d of details.databases) {
      for (const table of d.tables.filter((x) => x.hasData)) {
        const [row] = await db.query<{ n: string; s: string | null }>(
          `SELECT COUNT(*) AS n, SUM(CRC32(${table.rowExpression})) AS s FROM \`${d.name}\`.\`${table.name}\``,
        );
        t.is(Number(row!.n), table.rows!, `${d.name}.${table.name} rows`);
        t.is(String(row!.s ?? "0"), table.checksum!, `${d.name}.${table.name} checksum`);
        checked++;
      }
      t.deepEqual(await countSchemaObjects(db, d.name), d.objects, `${d.name} schema objects`);
    }
    t.true(checked > 20, `figures checked on ${checked} tables`);
    await db.close();
  } finally {
    await server.stop();
  }
  return { details, filesDir, cleanup: () => rm(work, { recursive: true, force: true }) };
}

export async function fileMode(file: string): Promise<number> {
  const { stdout } = await execFileAsync('stat', ['-c', '%a', file]);
  return parseInt(stdout.trim(), 8);
}

export async function sameContent(a: string, b: string): Promise<boolean> {
  return (await readFile(a)).equals(await readFile(b));
}
