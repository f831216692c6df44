/**
 * A sandbox NGCP node: the databases of a sip:provider CE node in a scratch MariaDB, and its file
 * tree under a temporary root. Used by tests, the demo and the benchmark; never point it at a
 * production server (it refuses to touch a server that already holds NGCP databases unless told to).
 */
import mysql, { type Connection } from 'mysql2/promise';
import { planCdrExport } from './cdr-files.js';
import { randomBytes } from 'node:crypto';
import { cdrBatchSql, cdrBatches, cdrPoolSql, cdrPools } from './cdr-data.js';
import { dataAfterCdrTasks, dataTasks, sandboxScale, type DataContext, type SandboxScale, type Task } from './data.js';
import { SSL_FILES, writeNodeFiles } from './files.js';
import { ARCHIVE_TABLE, NGCP_DATABASES, cdrSecondaryKeysDdl, postDataSql, schemaSql } from './schema.js';
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
   * How accounting.cdr gets its 14 secondary keys: 'bulk' creates them up front and loads each
   * table in one transaction (InnoDB's sorted bulk load into an empty table); 'alter' loads
   * without them on all connections in parallel, then adds them.
   */
  cdrStrategy?: 'bulk' | 'alter';
  /**
   * Grow innodb_buffer_pool_size to this many bytes while generating rows, then restore it.
   * Default: about 1.2 KB per CDR (rows and keys stay in memory), capped at 4 GiB, never shrinking;
   * 0 leaves the server alone. Generating 2M CDRs in a 256 MB pool is disk-bound and ~5x slower.
   */
  generationBufferPool?: number;
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
  /** Milliseconds per phase (users, schema, data, keys, post-data, files). */
  timingsMs: Record<string, number>;
}

export const DEFAULT_NGCP_VERSION = 'mr13.5.1';
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

async function runQueue(conns: Connection[], tasks: Task[], timings?: Record<string, number>): Promise<void> {
  const queue = [...tasks];
  let failed: unknown;
  await Promise.all(
    conns.map(async (conn) => {
      for (let task = queue.shift(); task && failed === undefined; task = queue.shift()) {
        try {
          const start = performance.now();
          await task.run(conn);
          if (timings) timings[`task ${task.name}`] = Math.round(performance.now() - start);
        } catch (error) {
          failed ??= new Error(`sandbox data task "${task.name}" failed: ${(error as Error).message}`, { cause: error });
        }
      }
    }),
  );
  if (failed !== undefined) throw failed;
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
): Promise<void> {
  const conns: Connection[] = [];
  // Scratch database for the CDR value pools, dropped at the end.
  const genDb = `ngcp_sandbox_gen_${process.pid}_${randomBytes(3).toString('hex')}`;
  let restorePool: number | undefined;
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
      for (const u of users) {
        await admin.query(`CREATE OR REPLACE USER ${mysql.escape(u.user)}@'localhost' IDENTIFIED BY ${mysql.escape(u.password)}`);
        for (const grant of u.grants) await admin.query(`GRANT ${grant} TO ${mysql.escape(u.user)}@'localhost'`);
      }
      await admin.query(`CREATE OR REPLACE USER 'debian-sys-maint'@'localhost' IDENTIFIED BY ${mysql.escape(debianCnfPassword)}`);
      await admin.query("GRANT ALL PRIVILEGES ON *.* TO 'debian-sys-maint'@'localhost' WITH GRANT OPTION");
    });

    const originalPool = Number(
      ((await admin.query('SELECT @@innodb_buffer_pool_size AS v')) as unknown as [Array<{ v: number }>])[0][0]!.v,
    );
    const wantedPool = options.generationBufferPool ?? Math.min(4 * 1024 ** 3, ctx.scale.cdr * 1200);
    if (wantedPool > originalPool) {
      await timed(timings, 'growBufferPool', () => resizeBufferPool(admin, wantedPool));
      restorePool = originalPool;
    }

    const strategy = options.cdrStrategy ?? (process.env.NGCP_SANDBOX_CDR_STRATEGY === 'alter' ? 'alter' : 'bulk');
    await timed(timings, 'schema', async () => {
      // Zero-date defaults need a permissive sql_mode (NGCP's own DDL is loaded the same way).
      await admin.query("SET SESSION sql_mode = ''");
      for (const sql of schemaSql({ cdrKeys: strategy === 'bulk' })) await admin.query(sql);
      await admin.query("SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'");
    });

    // seq_1_to_N tables (Sequence engine) resolve only with a current database.
    for (const c of conns) await c.query('USE ngcp');
    const pools = cdrPools(genDb, ctx.scale);
    await timed(timings, 'pools', async () => {
      await admin.query(`CREATE DATABASE \`${genDb}\``);
      for (const sql of cdrPoolSql(pools, ctx.scale)) await admin.query(sql);
    });

    const cdrTasks: Task[] = [];
    for (const table of ['cdr', ARCHIVE_TABLE] as const) {
      const batches = cdrBatches(ctx.scale, table);
      if (strategy === 'bulk') {
        // One transaction into an empty table: InnoDB sorts and builds every index page by page.
        cdrTasks.push({
          name: `accounting.${table}`,
          run: async (c) => {
            await c.query('START TRANSACTION');
            for (const b of batches) await c.query(cdrBatchSql(pools, b));
            await c.query('COMMIT');
          },
        });
      } else {
        for (const b of batches) {
          cdrTasks.push({
            name: `accounting.${table}[${b.from}..${b.to}]`,
            run: (c) => c.query(cdrBatchSql(pools, b)).then(() => undefined),
          });
        }
      }
    }
    await timed(timings, 'data', () => runQueue(conns, [...cdrTasks, ...dataTasks(ctx)], timings));
    await timed(timings, 'keys', () =>
      runQueue(
        conns,
        [
          ...(strategy === 'alter'
            ? ['cdr', ARCHIVE_TABLE].map((t) => ({
                name: `accounting.${t} keys`,
                run: (c: Connection) => c.query(cdrSecondaryKeysDdl(t)).then(() => undefined),
              }))
            : []),
          ...dataAfterCdrTasks(ctx),
        ],
        timings,
      ),
    );
    await timed(timings, 'postData', async () => {
      await admin.query("SET SESSION sql_mode = ''");
      for (const sql of postDataSql()) await admin.query(sql);
    });
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
  if (options.databases !== false) {
    jobs.push(timed(timingsMs, 'databases', () => createDatabases(options, ctx, users, debianCnfPassword, timingsMs)));
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
    timingsMs,
  };
}
