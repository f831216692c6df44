/**
 * A per-machine cache of generated CDR tables as InnoDB transportable tablespaces. Generating
 * 2M CDRs costs a minute here, almost all of it MariaDB building the 14 secondary keys in one
 * thread; importing the same table (FLUSH TABLES ... FOR EXPORT once, then DISCARD/IMPORT
 * TABLESPACE) costs a few seconds. Entries are keyed by everything that shapes the bytes (server
 * version, page size, DDL, generator SQL), written to a temporary directory and renamed into
 * place, so racing processes and partial writes are harmless.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Connection } from 'mysql2/promise';

const CACHE_FORMAT = 1;
const KEEP_ENTRIES = 3;

export function defaultCacheRoot(): string {
  return process.env.NGCP_BACKUP_SANDBOX_CACHE_DIR ?? path.join(os.tmpdir(), 'ngcp-backup-sandbox-cache');
}

export interface ServerFacts {
  datadir: string;
  version: string;
  pageSize: number;
  filePerTable: boolean;
}

export async function serverFacts(conn: Connection): Promise<ServerFacts> {
  const [rows] = (await conn.query(
    'SELECT @@datadir AS datadir, VERSION() AS version, @@innodb_page_size AS page, @@innodb_file_per_table AS fpt',
  )) as unknown as [Array<{ datadir: string; version: string; page: number; fpt: number }>];
  const r = rows[0]!;
  return { datadir: r.datadir, version: r.version, pageSize: Number(r.page), filePerTable: Number(r.fpt) === 1 };
}

/** The server's files are reachable from here (same machine, readable datadir). */
export async function datadirUsable(facts: ServerFacts, db: string): Promise<boolean> {
  if (!facts.filePerTable) return false;
  try {
    await fs.access(path.join(facts.datadir, db), fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export function cacheKey(facts: ServerFacts, parts: string[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ format: CACHE_FORMAT, version: facts.version, page: facts.pageSize }));
  for (const p of parts) h.update('\0').update(p);
  return h.digest('hex').slice(0, 32);
}

export async function findEntry(root: string, key: string, tables: readonly string[]): Promise<string | undefined> {
  const dir = path.join(root, key);
  try {
    for (const t of tables) {
      await fs.access(path.join(dir, `${t}.ibd`));
      await fs.access(path.join(dir, `${t}.cfg`));
    }
    const now = new Date();
    await fs.utimes(dir, now, now).catch(() => undefined);
    return dir;
  } catch {
    return undefined;
  }
}

/** Replaces the (empty, same-DDL) tables' tablespaces with the cached ones. */
export async function importTables(
  conn: Connection,
  facts: ServerFacts,
  db: string,
  tables: readonly string[],
  entry: string,
): Promise<void> {
  const dbDir = path.join(facts.datadir, db);
  const owner = await fs.stat(dbDir);
  for (const t of tables) {
    await conn.query(`ALTER TABLE \`${db}\`.\`${t}\` DISCARD TABLESPACE`);
    for (const ext of ['ibd', 'cfg']) {
      const target = path.join(dbDir, `${t}.${ext}`);
      await fs.copyFile(path.join(entry, `${t}.${ext}`), target);
      await fs.chown(target, owner.uid, owner.gid);
      await fs.chmod(target, 0o660);
    }
    try {
      await conn.query(`ALTER TABLE \`${db}\`.\`${t}\` IMPORT TABLESPACE`);
    } finally {
      await fs.rm(path.join(dbDir, `${t}.cfg`), { force: true });
    }
  }
  await conn.query(`ANALYZE TABLE ${tables.map((t) => `\`${db}\`.\`${t}\``).join(', ')}`);
}

/** Copies the tables' tablespaces into a new cache entry (the tables are read-locked meanwhile). */
export async function exportTables(
  conn: Connection,
  facts: ServerFacts,
  db: string,
  tables: readonly string[],
  root: string,
  key: string,
): Promise<void> {
  await fs.mkdir(root, { recursive: true });
  const tmp = path.join(root, `${key}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`);
  await fs.mkdir(tmp);
  try {
    await conn.query(`FLUSH TABLES ${tables.map((t) => `\`${db}\`.\`${t}\``).join(', ')} FOR EXPORT`);
    try {
      for (const t of tables) {
        for (const ext of ['ibd', 'cfg']) {
          await fs.copyFile(path.join(facts.datadir, db, `${t}.${ext}`), path.join(tmp, `${t}.${ext}`));
        }
      }
    } finally {
      await conn.query('UNLOCK TABLES');
    }
    try {
      await fs.rename(tmp, path.join(root, key));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  await prune(root);
}

/** Keeps the most recently used entries: each 2M-CDR entry is about 2.5 GB. */
async function prune(root: string): Promise<void> {
  const entries = await fs.readdir(root, { withFileTypes: true });
  const dirs: Array<{ p: string; t: number }> = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name.includes('.tmp-')) continue;
    const p = path.join(root, e.name);
    dirs.push({ p, t: (await fs.stat(p)).mtimeMs });
  }
  dirs.sort((a, b) => b.t - a.t);
  for (const { p } of dirs.slice(KEEP_ENTRIES)) await fs.rm(p, { recursive: true, force: true });
}
