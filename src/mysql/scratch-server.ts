/**
 * Scratch MariaDB servers: what a drill restores into (and, through testkit/, what tests, the demo
 * and the benchmark run on). Each one has its own datadir, socket, pid file and TCP port on
 * 127.0.0.1, and is copied from one template datadir that is initialised once per machine and
 * work directory (mariadb-install-db costs seconds, a copy costs a fraction).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promises as fs, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import { requireTool } from '../util/tools.js';
import { connect } from './connection.js';

const execFileAsync = promisify(execFile);

export interface ScratchServer {
  socket: string;
  port: number;
  host: '127.0.0.1';
  dir: string;
  stop(): Promise<void>;
}

export interface ScratchServerOptions {
  /** Where the server's own temporary directory and the template datadir go (default: the OS's). */
  workDir?: string;
  /** Directory for datadir, socket, pid and log. Kept after stop() when given. */
  dir?: string;
  /** innodb_buffer_pool_size in MiB (default 256). */
  bufferPoolMiB?: number;
  /** Turn the binary log on (log-bin, server-id, binlog_format=ROW). */
  binlog?: boolean;
  /** TCP port on 127.0.0.1; a free one is picked when omitted. */
  port?: number;
  /** Extra mariadbd options, appended last so they override the defaults. */
  serverArgs?: string[];
  /** How long to wait for the server to answer (ms). Default 60 s. */
  startTimeoutMs?: number;
}

const MARIADBD = process.env.NGCP_BACKUP_MARIADBD ?? 'mariadbd';
const INSTALL_DB = process.env.NGCP_BACKUP_MARIADB_INSTALL_DB ?? 'mariadb-install-db';

/**
 * Checks, before any work, that the MariaDB server programs a scratch server needs are installed;
 * a missing one is a ToolMissingError naming it and the package.
 */
export async function checkScratchServerTools(): Promise<void> {
  for (const tool of [MARIADBD, INSTALL_DB]) await requireTool(tool, 'mariadb-server', 'a drill restores into a scratch MariaDB server');
}

/** Every server this process started and has not stopped, killed if the process exits. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test worker that dies must not leave servers behind: 'exit' handlers run synchronously,
  // so a SIGKILL is all we can do there.
  process.on('exit', () => {
    for (const child of running) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

let versionPromise: Promise<string> | undefined;

/** The server version string, e.g. "10.11.19-MariaDB-0+deb12u1". */
export function mariadbVersion(): Promise<string> {
  versionPromise ??= (async () => {
    const { stdout } = await execFileAsync(MARIADBD, ['--version']);
    const match = /Ver\s+(\S+)/.exec(stdout);
    if (!match) throw new Error(`cannot parse "${MARIADBD} --version" output: ${stdout.trim()}`);
    return match[1]!;
  })();
  return versionPromise;
}

const templates = new Map<string, Promise<string>>();

/**
 * The template datadir for this machine's MariaDB version, created on first use. Built in a
 * temporary directory and renamed into place, so a process that loses the race simply uses the
 * winner's template.
 */
export function templateDatadir(workDir = os.tmpdir()): Promise<string> {
  let templatePromise = templates.get(workDir);
  if (templatePromise) return templatePromise;
  templatePromise = (async () => {
    const version = (await mariadbVersion()).replace(/[^A-Za-z0-9._-]/g, '_');
    const final = path.join(workDir, `ngcp-backup-mariadb-template-${version}`);
    if (existsSync(path.join(final, 'data', 'mysql'))) return final;
    const tmp = await fs.mkdtemp(`${final}.tmp-`);
    try {
      await execFileAsync(
        INSTALL_DB,
        [
          '--no-defaults',
          '--user=root',
          `--datadir=${path.join(tmp, 'data')}`,
          '--auth-root-authentication-method=normal',
          '--skip-test-db',
          '--skip-name-resolve',
        ],
        { maxBuffer: 16 * 1024 * 1024 },
      );
      try {
        await fs.rename(tmp, final);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
        // Another process won the race: its template is complete, since rename is atomic.
      }
    } catch (error) {
      const detail = (error as { stderr?: string }).stderr?.trim().split('\n').slice(-10).join('\n');
      if (!existsSync(path.join(final, 'data', 'mysql'))) {
        throw new Error(`mariadb-install-db failed${detail ? `:\n${detail}` : ''}`, { cause: error });
      }
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
    return final;
  })();
  templates.set(workDir, templatePromise);
  templatePromise.catch(() => templates.delete(workDir));
  return templatePromise;
}

/** A TCP port that was free a moment ago (the server's bind failure is retried by the caller). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function logTail(file: string, lines = 25): Promise<string> {
  try {
    const text = await fs.readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no error log)';
  }
}

function waitForExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class PortInUse extends Error {}

const SETPRIV = '/usr/bin/setpriv';
let setprivPromise: Promise<boolean> | undefined;
function hasSetpriv(): Promise<boolean> {
  setprivPromise ??= execFileAsync(SETPRIV, ['--help']).then(
    ({ stdout }) => stdout.includes('--pdeathsig'),
    () => false,
  );
  return setprivPromise;
}

export async function startScratchServer(options: ScratchServerOptions = {}): Promise<ScratchServer> {
  installExitHook();
  const workDir = options.workDir ?? os.tmpdir();
  await fs.mkdir(workDir, { recursive: true, mode: 0o700 });
  const template = await templateDatadir(workDir);
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await fs.mkdtemp(path.join(workDir, 'ngcp-backup-mariadb-')));
  await fs.mkdir(dir, { recursive: true });
  const datadir = path.join(dir, 'data');
  try {
    if (!existsSync(path.join(datadir, 'mysql'))) {
      await fs.rm(datadir, { recursive: true, force: true });
      // cp -a is several times faster than fs.cp for the 100 MB redo log.
      await execFileAsync('cp', ['-a', path.join(template, 'data'), datadir]);
    }
    await fs.mkdir(path.join(dir, 'tmp'), { recursive: true });
    for (let attempt = 1; ; attempt++) {
      const port = options.port ?? (await freePort());
      try {
        return await launch(dir, datadir, port, ownDir, options);
      } catch (error) {
        if (error instanceof PortInUse && options.port === undefined && attempt < 5) continue;
        throw error;
      }
    }
  } catch (error) {
    if (ownDir) await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function launch(
  dir: string,
  datadir: string,
  port: number,
  ownDir: boolean,
  options: ScratchServerOptions,
): Promise<ScratchServer> {
  // A unix socket path is limited to 107 bytes; a deep caller dir would silently break it.
  let socket = path.join(dir, 'mysqld.sock');
  if (Buffer.byteLength(socket) > 100) {
    socket = path.join(os.tmpdir(), `ngcp-backup-mysqld-${process.pid}-${port}.sock`);
  }
  const errorLog = path.join(dir, 'error.log');
  const args = [
    '--no-defaults',
    '--user=root',
    `--datadir=${datadir}`,
    `--socket=${socket}`,
    `--pid-file=${path.join(dir, 'mysqld.pid')}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--tmpdir=${path.join(dir, 'tmp')}`,
    `--log-error=${errorLog}`,
    '--log-warnings=1',
    `--innodb-buffer-pool-size=${options.bufferPoolMiB ?? 256}M`,
    // Index builds (ALTER TABLE ... ADD KEY, bulk loads into empty tables) sort in this buffer.
    '--innodb-sort-buffer-size=64M',
    '--innodb-log-file-size=256M',
    // Scratch data: durability per commit buys nothing here and costs a lot on bulk loads.
    '--innodb-flush-log-at-trx-commit=2',
    '--sync-binlog=0',
    // Lets parallel INSERT ... SELECT into one table run without a table-level AUTO-INC lock.
    '--innodb-autoinc-lock-mode=2',
    '--local-infile=ON',
    '--max-allowed-packet=1G',
    '--max-connections=200',
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_general_ci',
  ];
  if (options.binlog) {
    args.push(
      `--log-bin=${path.join(dir, 'binlog', 'mysql-bin')}`,
      '--server-id=1',
      '--binlog-format=ROW',
    );
    await fs.mkdir(path.join(dir, 'binlog'), { recursive: true });
  }
  args.push(...(options.serverArgs ?? []));
  const logStart = await fs.stat(errorLog).then((s) => s.size, () => 0);

  // With setpriv, the kernel sends the server SIGTERM (a clean shutdown) when this process dies
  // in any way, SIGKILL included, so a killed test worker leaves no server behind.
  // Only from the main thread: the signal follows the thread that spawned, not the process.
  const child = isMainThread && (await hasSetpriv())
    ? spawn(SETPRIV, ['--pdeathsig', 'TERM', MARIADBD, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(MARIADBD, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      running.delete(child);
      resolve();
    });
    child.once('error', () => {
      exited = true;
      running.delete(child);
      resolve();
    });
  });

  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    if (exited) {
      const log = (await fs.readFile(errorLog, 'utf8').catch(() => '')).slice(logStart);
      if (/Address already in use|Do you already have another .*server running on port/i.test(log)) {
        throw new PortInUse(`port ${port} is in use`);
      }
      throw new Error(
        `mariadbd exited during startup (dir ${dir}); error log tail:\n${await logTail(errorLog)}${
          stderr ? `\nstderr: ${stderr.trim()}` : ''
        }`,
      );
    }
    try {
      const conn = await connect(root(socket));
      await conn.close();
      break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exitPromise;
      throw new Error(
        `mariadbd did not answer on ${socket} within ${options.startTimeoutMs ?? 60_000} ms; error log tail:\n${await logTail(errorLog)}`,
      );
    }
    await delay(100);
  }

  // mariadb-install-db makes root@localhost, root@127.0.0.1 and root@::1 with an empty
  // password; make sure of 127.0.0.1 in case the template came from an older installer.
  const admin = await connect(root(socket));
  try {
    await admin.query("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''");
    await admin.query("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION");
  } finally {
    await admin.close();
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exited) {
        try {
          const conn = await connect(root(socket));
          // The datadir is about to be deleted: skip flushing the buffer pool (seconds to a
          // minute after a big load). A caller's own dir gets a normal shutdown.
          if (ownDir) await conn.query('SET GLOBAL innodb_fast_shutdown = 2').catch(() => undefined);
          await conn.query('SHUTDOWN').catch(() => undefined);
          await conn.close().catch(() => undefined);
        } catch {
          child.kill('SIGTERM');
        }
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          exitPromise.then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), 60_000);
          }),
        ]);
        clearTimeout(timer);
        if (timedOut) {
          child.kill('SIGKILL');
          await exitPromise;
        }
      }
      await waitForExit(child);
      if (ownDir) await fs.rm(dir, { recursive: true, force: true });
      if (!socket.startsWith(dir)) await fs.rm(socket, { force: true });
    })();
    return stopping;
  };

  return { socket, port, host: '127.0.0.1', dir, stop };
}

function root(socket: string) {
  return { socket, user: 'root', describe: `the scratch MariaDB at ${socket}` };
}
