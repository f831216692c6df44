/**
 * A sandbox NGCP node: the databases of a sip:provider CE node in a scratch MariaDB, and its file
 * tree under a temporary root. Used by tests, the demo and the benchmark; never point it at a
 * production server (it refuses to touch a server that already holds NGCP databases unless told to).
 */
import { randomBytes } from 'node:crypto';
import mysql, { type Connection } from 'mysql2/promise';
import {
  cacheKey,
  datadirUsable,
  defaultCacheRoot,
  exportTables,
  findEntry,
  importTables,
  serverFacts,
  type ServerFacts,
} from './cdr-cache.js';
import { cdrBatchSql, cdrBatches, cdrPoolSql, cdrPools } from './cdr-data.js';
import { planCdrExport } from './cdr-files.js';
import { dataAfterCdrTasks, dataTasks, sandboxScale, type DataContext, type SandboxScale, type Task } from './data.js';
import { SSL_FILES, writeNodeFiles } from './files.js';
import { ARCHIVE_TABLE, NGCP_DATABASES, cdrSecondaryKeysDdl, cdrTableDdl, postDataSql, schemaSql } from './schema.js';
import {
  DEFAULT_CONSTANTS_SEED,
  DEFAULT_DEBIAN_CNF_SEED,
  derivePassword,
  serviceUsers as makeServiceUsers,
  type ServiceUser,
} from './secrets.js';

export { NGCP_DATABASES } from './schema.js';
export { cdrFileMd5Ok, CDR_EXPORT_DIR } from './cdr-files.js';
export { SSL_FILES } from './files.js';

export interface SandboxOptions {
  /** Node filesystem root (a temp dir); node paths like /etc/ngcp-config live under it. */
  root: string;
  /** Connect as root with an empty password over this socket. */
  mysql: { socket: string };
  /** Rows in accounting.cdr; other tables scale from it (a few rows minimum). */
  cdrRows: number;
  /** Seeds for generated passwords, so that a "fresh install" can differ. */
  secrets?: { constants?: string; debianCnf?: string };
  /** Default 'mr13.5.1'. */
  ngcpVersion?: string;
  /** Default true: create users, databases and rows. */
  databases?: boolean;
  /** Default true: create the file tree. */
  files?: boolean;
  /** Drop NGCP databases that already exist instead of refusing. Default false. */
  replace?: boolean;
  /** Parallel connections for row generation. Default 2. */
  connections?: number;
  /**
   * Grow innodb_buffer_pool_size to this many bytes while generating rows, then restore it.
   * Default: about 1.2 KB per CDR (rows and keys stay in memory), capped at 4 GiB, never shrinking;
   * 0 leaves the server alone. Generating 2M CDRs in a 256 MB pool is disk-bound and several
   * times slower.
   */
  generationBufferPool?: number;
  /**
   * Reuse accounting.cdr and its archive from a per-machine tablespace cache when an identical
   * pair was generated before (and store them after generating). Default: on for 200,000 rows
   * and more, off below, and off when NGCP_BACKUP_SANDBOX_CACHE=0. Needs the server's datadir
   * on this machine.
   */
  cache?: boolean;
  /** Default NGCP_BACKUP_SANDBOX_CACHE_DIR or <tmpdir>/ngcp-backup-sandbox-cache. */
  cacheDir?: string;
}

export interface SandboxNode {
  root: string;
  ngcpVersion: string;
  nodeName: string;
  debianCnfPassword: string;
  serviceUsers: Array<{ user: string; password: string }>;
  /** Key under credentials.mysql in constants.yml for each service user. */
  serviceUserKeys: Record<string, string>;
  /** Row counts the generator aimed for. */
  scale: SandboxScale;
  /** accounting.mark exporter sequences, consistent with the newest completed CDR export files. */
  exporterMarks: Record<string, number>;
  sslFiles: typeof SSL_FILES;
  /** accounting.cdr and its archive were imported from the tablespace cache, not generated. */
  cdrFromCache: boolean;
  /** Milliseconds per phase (users, schema, pools, data, postData, files, databases) and per data task. */
  timingsMs: Record<string, number>;
}

export const DEFAULT_NGCP_VERSION = 'mr13.5.1';
const CACHE_MIN_ROWS = 200_000;
export const NODE_NAME = 'spce';

const DATA_SESSION = [
  'SET SESSION sql_log_bin = 0',
  'SET SESSION unique_checks = 0',
  'SET SESSION foreign_key_checks = 0',
  "SET SESSION time_zone = '+00:00'",
  "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'",
  'SET SESSION group_concat_max_len = 67108864',
  // Divisions in the generators must keep six decimals (decimal(14,6) costs, TIME(6)); default is 4.
  'SET SESSION div_precision_increment = 8',
  // The generators read values computed in a derived table; materialise it so each is computed once.
  "SET SESSION optimizer_switch = 'derived_merge=off'",
  'SET SESSION max_heap_table_size = 268435456',
  'SET SESSION tmp_table_size = 268435456',
  // Parallel generators of one table wait on each other's locks: on a busy machine (a loaded CI
  // host) InnoDB's default 50 s was seen to run out.
  'SET SESSION innodb_lock_wait_timeout = 1800',
];

async function connect(socket: string): Promise<Connection> {
  const conn = await mysql.createConnection({
    socketPath: socket,
    user: 'root',
    password: '',
    charset: 'utf8mb4_general_ci',
    timezone: 'Z',
  });
  for (const sql of DATA_SESSION) await conn.query(sql);
  return conn;
}

interface ScheduledTask extends Task {
  /** Names of tasks that must finish first. */
  after?: string[];
}

/**
 * Runs tasks on the connections in parallel, each connection taking the first task (in list
 * order) whose dependencies are done. Stops handing out work after the first failure.
 */
async function runTasks(conns: Connection[], tasks: ScheduledTask[], timings?: Record<string, number>): Promise<void> {
  const pending = [...tasks];
  const done = new Set<string>();
  let running = 0;
  let failed: unknown;
  let wake: () => void = () => undefined;
  let changed = new Promise<void>((r) => (wake = r));
  const signal = (): void => {
    const w = wake;
    changed = new Promise<void>((r) => (wake = r));
    w();
  };
  const worker = async (conn: Connection): Promise<void> => {
    while (failed === undefined && pending.length > 0) {
      const i = pending.findIndex((t) => (t.after ?? []).every((d) => done.has(d)));
      if (i < 0) {
        if (running === 0) {
          failed ??= new Error(`sandbox data tasks wait for tasks that never run: ${pending.map((t) => t.name).join(', ')}`);
          break;
        }
        await changed;
        continue;
      }
      const [task] = pending.splice(i, 1);
      const start = performance.now();
      running++;
      try {
        await task!.run(conn);
        if (timings) timings[`task ${task!.name}`] = Math.round(performance.now() - start);
        done.add(task!.name);
      } catch (error) {
        failed ??= new Error(`sandbox data task "${task!.name}" failed: ${(error as Error).message}`, { cause: error });
      }
      running--;
      signal();
    }
  };
  await Promise.all(conns.map(worker));
  if (failed !== undefined) throw failed;
}

/**
 * Parallel INSERT ... SELECT batches into one table can deadlock on InnoDB's locks. A batch is
 * one autocommit statement, so a deadlock rolled all of it back and running it again is safe.
 */
async function retryDeadlock(run: () => Promise<unknown>, attempts = 5): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await run();
      return;
    } catch (error) {
      if ((error as { errno?: number }).errno !== 1213 || i >= attempts) throw error;
      await new Promise((r) => setTimeout(r, 50 * i));
    }
  }
}

/** SET GLOBAL innodb_buffer_pool_size and wait until InnoDB has finished the resize. */
async function resizeBufferPool(conn: Connection, bytes: number): Promise<void> {
  await conn.query('SET GLOBAL innodb_buffer_pool_size = ?', [bytes]);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const [rows] = (await conn.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_resize_status'")) as unknown as [
      Array<{ Value: string }>,
    ];
    const status = rows[0]?.Value ?? '';
    if (status === '' || /completed|not started|^$/i.test(status)) return;
    if (Date.now() > deadline) throw new Error(`innodb_buffer_pool_size resize did not finish: ${status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function timed<T>(timings: Record<string, number>, name: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    timings[name] = Math.round(performance.now() - start);
  }
}

async function createDatabases(
  options: SandboxOptions,
  ctx: DataContext,
  users: ServiceUser[],
  debianCnfPassword: string,
  timings: Record<string, number>,
): Promise<{ cdrFromCache: boolean }> {
  const conns: Connection[] = [];
  // Scratch database for the CDR value pools, dropped at the end.
  const genDb = `ngcp_sandbox_gen_${process.pid}_${randomBytes(3).toString('hex')}`;
  let restorePool: number | undefined;
  let cdrFromCache = false;
  try {
    for (let i = 0; i < Math.max(1, options.connections ?? 2); i++) conns.push(await connect(options.mysql.socket));
    const admin = conns[0]!;

    const [existing] = (await admin.query(
      `SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (${NGCP_DATABASES.map((d) => mysql.escape(d)).join(', ')})`,
    )) as [Array<{ SCHEMA_NAME: string }>, unknown];
    if (existing.length > 0) {
      if (!options.replace) {
        throw new Error(
          `refusing to build a sandbox node: the server at ${options.mysql.socket} already has NGCP databases (${existing
            .map((r) => r.SCHEMA_NAME)
            .join(', ')}); pass replace: true to drop them`,
        );
      }
      for (const { SCHEMA_NAME } of existing) await admin.query(`DROP DATABASE \`${SCHEMA_NAME}\``);
    }

    await timed(timings, 'users', async () => {
      // Errors here name the user and the server's error code, never the statement (it holds a password).
      const run = async (user: string, sql: string): Promise<void> => {
        try {
          await admin.query(sql);
        } catch (error) {
          const code = (error as { code?: string }).code ?? 'unknown error';
          throw new Error(`creating MariaDB user ${user}@localhost for the sandbox failed (${code})`);
        }
      };
      for (const u of users) {
        await run(u.user, `CREATE OR REPLACE USER ${mysql.escape(u.user)}@'localhost' IDENTIFIED BY ${mysql.escape(u.password)}`);
        for (const grant of u.grants) await run(u.user, `GRANT ${grant} TO ${mysql.escape(u.user)}@'localhost'`);
      }
      await run('debian-sys-maint', `CREATE OR REPLACE USER 'debian-sys-maint'@'localhost' IDENTIFIED BY ${mysql.escape(debianCnfPassword)}`);
      await run('debian-sys-maint', "GRANT ALL PRIVILEGES ON *.* TO 'debian-sys-maint'@'localhost' WITH GRANT OPTION");
    });

    const cdrTables = ['cdr', ARCHIVE_TABLE] as const;
    const pools = cdrPools(genDb, ctx.scale);
    const batches = { cdr: cdrBatches(ctx.scale, 'cdr'), [ARCHIVE_TABLE]: cdrBatches(ctx.scale, ARCHIVE_TABLE) };

    // Big CDR tables come from the tablespace cache when an identical one was generated before.
    let cache: { facts: ServerFacts; root: string; key: string; entry?: string } | undefined;
    const cacheWanted = options.cache ?? (process.env.NGCP_BACKUP_SANDBOX_CACHE !== '0' && ctx.scale.cdr >= CACHE_MIN_ROWS);
    if (cacheWanted) {
      const facts = await serverFacts(admin);
      if (await datadirUsable(facts, '.')) {
        const root = options.cacheDir ?? defaultCacheRoot();
        // The scratch database name differs per run: key on a fixed one.
        const keyPools = cdrPools('ngcp_sandbox_gen', ctx.scale);
        const key = cacheKey(facts, [
          ...DATA_SESSION,
          ...cdrTables.map((t) => cdrTableDdl(t, true)),
          ...cdrPoolSql(keyPools, ctx.scale),
          ...cdrTables.flatMap((t) => batches[t].map((b) => cdrBatchSql(keyPools, b))),
          ...cdrTables.map((t) => cdrSecondaryKeysDdl(t)),
        ]);
        cache = { facts, root, key, entry: await findEntry(root, key, cdrTables) };
      }
    }

    await timed(timings, 'schema', async () => {
      // Zero-date defaults need a permissive sql_mode (NGCP's own DDL is loaded the same way).
      await admin.query("SET SESSION sql_mode = ''");
      for (const sql of schemaSql({ cdrKeys: cache?.entry !== undefined })) await admin.query(sql);
      await admin.query("SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'");
    });

    if (cache?.entry) {
      const { facts, entry } = cache;
      try {
        await timed(timings, 'cdrCacheImport', () => importTables(admin, facts, 'accounting', cdrTables, entry));
        cdrFromCache = true;
      } catch {
        // A cache entry the server refuses (say, after a server upgrade) is regenerated.
        for (const t of cdrTables) {
          await admin.query(`DROP TABLE IF EXISTS accounting.\`${t}\``);
          await admin.query(cdrTableDdl(t, false));
        }
        cache.entry = undefined;
      }
    }

    // seq_1_to_N tables (Sequence engine) resolve only with a current database.
    for (const c of conns) await c.query('USE ngcp');
    const tasks: ScheduledTask[] = [];
    const cdrBatchNames: string[] = [];
    if (!cdrFromCache) {
      const originalPool = Number(
        ((await admin.query('SELECT @@innodb_buffer_pool_size AS v')) as unknown as [Array<{ v: number }>])[0][0]!.v,
      );
      const wantedPool = options.generationBufferPool ?? Math.min(4 * 1024 ** 3, ctx.scale.cdr * 1200);
      if (wantedPool > originalPool) {
        await timed(timings, 'growBufferPool', () => resizeBufferPool(admin, wantedPool));
        restorePool = originalPool;
      }
      await timed(timings, 'pools', async () => {
        await admin.query(`CREATE DATABASE \`${genDb}\``);
        for (const sql of cdrPoolSql(pools, ctx.scale)) await admin.query(sql);
      });

      // The CDR rows go in first on every connection, without secondary keys; the single-threaded
      // ALTER that adds the 14 keys to accounting.cdr (the longest step) then overlaps the rest.
      // (Loading with the keys in place, one transaction per empty table, InnoDB's bulk-load
      // path, measured ~3x slower at 2M rows.)
      const names: Record<string, string[]> = {};
      const archive: ScheduledTask[] = [];
      for (const table of cdrTables) {
        names[table] = batches[table].map((b) => `accounting.${table}[${b.from}..${b.to}]`);
        (table === 'cdr' ? tasks : archive).push(
          ...batches[table].map((b, i) => ({
            name: names[table]![i]!,
            run: (c: Connection) => retryDeadlock(() => c.query(cdrBatchSql(pools, b))),
          })),
        );
      }
      const keysTask = (table: string): ScheduledTask => ({
        name: `accounting.${table} keys`,
        after: names[table],
        run: (c) => c.query(cdrSecondaryKeysDdl(table)).then(() => undefined),
      });
      tasks.push(keysTask('cdr'), ...archive, keysTask(ARCHIVE_TABLE));
      cdrBatchNames.push(...names.cdr!, ...names[ARCHIVE_TABLE]!);
    }
    tasks.push(...dataTasks(ctx));
    for (const t of dataAfterCdrTasks(ctx)) tasks.push({ ...t, after: cdrBatchNames });
    await timed(timings, 'data', () => runTasks(conns, tasks, timings));

    if (cache && !cdrFromCache) {
      const { facts, root, key } = cache;
      // Best effort: a full disk costs the next run time, not this run its sandbox.
      await timed(timings, 'cdrCacheExport', () => exportTables(admin, facts, 'accounting', cdrTables, root, key)).catch(
        () => undefined,
      );
    }
    await timed(timings, 'postData', async () => {
      await admin.query("SET SESSION sql_mode = ''");
      for (const sql of postDataSql()) await admin.query(sql);
    });
    return { cdrFromCache };
  } finally {
    if (conns[0]) await conns[0].query(`DROP DATABASE IF EXISTS \`${genDb}\``).catch(() => undefined);
    if (conns[0] && restorePool !== undefined) {
      const admin = conns[0];
      await timed(timings, 'restoreBufferPool', () => resizeBufferPool(admin, restorePool!)).catch(() => undefined);
    }
    await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
  }
}

export async function createSandboxNode(options: SandboxOptions): Promise<SandboxNode> {
  const ngcpVersion = options.ngcpVersion ?? DEFAULT_NGCP_VERSION;
  const constantsSeed = options.secrets?.constants ?? DEFAULT_CONSTANTS_SEED;
  const debianSeed = options.secrets?.debianCnf ?? DEFAULT_DEBIAN_CNF_SEED;
  const users = makeServiceUsers(constantsSeed);
  const debianCnfPassword = derivePassword(debianSeed, 'debian-sys-maint');
  const scale = sandboxScale(options.cdrRows);
  const cdrPlan = planCdrExport(scale.cdr);
  const timingsMs: Record<string, number> = {};
  const ctx: DataContext = { scale, ngcpVersion, nodeName: NODE_NAME, marks: cdrPlan.marks, seed: constantsSeed };

  const jobs: Array<Promise<void>> = [];
  let cdrFromCache = false;
  if (options.databases !== false) {
    jobs.push(
      timed(timingsMs, 'databases', async () => {
        ({ cdrFromCache } = await createDatabases(options, ctx, users, debianCnfPassword, timingsMs));
      }),
    );
  }
  if (options.files !== false) {
    jobs.push(
      timed(timingsMs, 'files', () =>
        writeNodeFiles({
          root: options.root,
          ngcpVersion,
          nodeName: NODE_NAME,
          socket: options.mysql.socket,
          debianCnfPassword,
          serviceUsers: users,
          constantsSeed,
          cdrPlan,
        }),
      ),
    );
  }
  const results = await Promise.allSettled(jobs);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;

  return {
    root: options.root,
    ngcpVersion,
    nodeName: NODE_NAME,
    debianCnfPassword,
    serviceUsers: users.map((u) => ({ user: u.user, password: u.password })),
    serviceUserKeys: Object.fromEntries(users.map((u) => [u.user, u.key])),
    scale,
    exporterMarks: Object.fromEntries(cdrPlan.marks),
    sslFiles: SSL_FILES,
    cdrFromCache,
    timingsMs,
  };
}

/**
 * The ngcp-backup config (as YAML data) that backs a sandbox node up to a file:// repository:
 * what the demo, the benchmark and the tests start from.
 */
export function sandboxConfig(options: { root: string; socket: string; repository: string; recipient: string }): Record<string, any> {
  return {
    node: { root: options.root },
    mysql: { socket: options.socket, defaults_file: '/etc/mysql/debian.cnf' },
    repository: { url: `file://${options.repository}` },
    encryption: { recipients: [options.recipient] },
    // Beside the sandbox, never the host's /run, /var/lib and /var/log: sandboxes run side by side.
    service: sandboxService(options.root),
  };
}

/** The service section of a sandbox's config: lock, state and log inside its directory. */
export function sandboxService(root: string): Record<string, string> {
  const dir = `${root.replace(/\/+$/, '')}.service`;
  return { state_dir: `${dir}/state`, lock_dir: `${dir}/lock`, log_file: `${dir}/backup.log` };
}
