/**
 * `npm run bench -- --rows N [--runs K] [--restore-runs R] [--no-growth] [--out DIR]`
 *
 * ngcp-backup side by side with what a sysadmin would script and with mydumper, on a sandbox
 * node whose accounting.cdr has N rows (testkit/, a scratch MariaDB with binlog on):
 *   backup   baseline  mariadb-dump --single-transaction ... | zstd -3 -T0 | age -r | aws s3 cp -
 *            anchor    mydumper -t 2 -c into a temp dir (no encryption, no upload)
 *            ngcp-backup backup --json to the same Ceph RGW
 *   restore  baseline  aws s3 cp - | age -d | zstd -d | mariadb, onto a freshly installed node
 *            ngcp-backup restore --only databases, onto a freshly installed node
 *   verify   ngcp-backup verify (no key)
 *   growth   ngcp-backup backup of a second sandbox with 4N rows (peak RSS), unless --no-growth
 * K runs of each backup job (interleaved), R of each restore job, K of verify. Writes
 * <out>/<YYYY-MM-DD>-<N>.md and .json (default out: bench/results; -2, -3, ... appended rather than
 * overwriting an earlier result) and prints the table.
 * Timing never fails the benchmark; a failing job does (exit 1). Everything it starts is
 * stopped and removed afterwards, on failure and on SIGINT/SIGTERM too.
 * How CPU and RSS are measured: bench/measure.ts.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { generateIdentity } from '../src/crypto/age.js';
import { connect, quoteString } from '../src/mysql/connection.js';
import { mariadbVersion, startMariadbInstance, type MariadbInstance } from '../testkit/scratch-mariadb.js';
import { createSandboxNode, sandboxConfig } from '../testkit/node.js';
import { GNU_TIME, JobFailed, killCurrentJob, machine, measure, pipeline, versionOf } from './measure.js';
import { TARGET_MIN_ROWS, jobTable, markdown, median, targetLines, targets, type Job, type Results, type Run } from './report.js';
import { RGW_ENDPOINT, createBenchBucket, type BenchBucket } from './s3.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROJECT = path.resolve(HERE, '../..');
const CLI = path.join(PROJECT, 'dist/src/cli/main.js');
const AWS = '/usr/bin/aws';
const SYSTEM_DATABASES = ['mysql', 'information_schema', 'performance_schema', 'sys'];
/** ngcp-backup's default mysql.exclude (src/config/load.ts): the baseline dumps the same set. */
const DEFAULT_EXCLUDE = ['syslog', 'sipstats'];

const USAGE = `Usage: npm run bench -- --rows N [--runs K] [--restore-runs R] [--no-growth] [--out DIR]
  --rows N          accounting.cdr rows of the sandbox node (required; do not exceed what the machine can hold)
  --runs K          runs of each backup job and of verify (default 3)
  --restore-runs R  runs of each restore job (default min(2, K))
  --no-growth       skip the backup at 4N rows (rss_growth)
  --buffer-pool-mib M  innodb_buffer_pool_size of every scratch MariaDB (default 1024; a node's
                    server has at least that, and with 256 MiB a 2M-row baseline restore
                    spends most of its time waiting for the disk)
  --out DIR         where to write <date>-<N>.md/.json (default bench/results)`;

function options(): { rows: number; runs: number; restoreRuns: number; growth: boolean; out: string; bufferPoolMiB: number } {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string' },
      runs: { type: 'string' },
      'restore-runs': { type: 'string' },
      'buffer-pool-mib': { type: 'string' },
      'no-growth': { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const int = (v: string | undefined, name: string, dflt?: number): number => {
    if (v === undefined && dflt !== undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      process.stderr.write(`bench: ${name} must be a positive integer, got ${JSON.stringify(v)}\n${USAGE}\n`);
      process.exit(2);
    }
    return n;
  };
  const rows = int(values.rows, '--rows');
  const runs = int(values.runs, '--runs', 3);
  return {
    rows,
    runs,
    restoreRuns: int(values['restore-runs'], '--restore-runs', Math.min(2, runs)),
    growth: !values['no-growth'],
    bufferPoolMiB: int(values['buffer-pool-mib'], '--buffer-pool-mib', 1024),
    out: path.resolve(values.out ?? path.join(PROJECT, 'bench/results')),
  };
}

/** Cleanup steps, run newest first, once, whether the benchmark ends well, fails or is signalled. */
const cleanups: Array<{ what: string; run: () => Promise<unknown> }> = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const c = cleanups.pop()!;
      try {
        await c.run();
      } catch (error) {
        process.stderr.write(`bench: cleanup (${c.what}) failed: ${(error as Error).message}\n`);
      }
    }
  })();
  return cleaning;
}
function onCleanup(what: string, run: () => Promise<unknown>): () => Promise<void> {
  const entry = { what, run };
  cleanups.push(entry);
  // Done early by the caller: run it now and forget it.
  return async () => {
    const i = cleanups.indexOf(entry);
    if (i >= 0) {
      cleanups.splice(i, 1);
      await run();
    }
  };
}
let signalled = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    signalled = true;
    process.stderr.write(`bench: ${signal}, cleaning up\n`);
    killCurrentJob();
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

const log = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);

/** innodb_buffer_pool_size of every scratch instance (--buffer-pool-mib). */
let bufferPoolMiB = 1024;

async function instance(what: string): Promise<{ server: MariadbInstance; pid: number; stop: () => Promise<void> }> {
  const server = await startMariadbInstance({ binlog: true, serverArgs: [`--innodb-buffer-pool-size=${bufferPoolMiB}M`] });
  const stop = onCleanup(`stop MariaDB ${what}`, () => server.stop());
  const pid = Number((await readFile(path.join(server.dir, 'mysqld.pid'), 'utf8')).trim());
  return { server, pid, stop };
}

/**
 * A restore target: a freshly installed node (its own MariaDB with the NGCP service users and
 * empty-ish databases, other passwords, its own file tree), as restore.test.ts's bare-metal case.
 * Views and routines name their definers (sipwise@localhost, ...): an empty server lacks them.
 */
async function freshNode(what: string, dir: string): Promise<{ server: MariadbInstance; pid: number; root: string; stop: () => Promise<void> }> {
  const target = await instance(what);
  const root = path.join(dir, 'root');
  await mkdir(root, { recursive: true });
  await createSandboxNode({ root, mysql: { socket: target.server.socket }, cdrRows: 10, secrets: { constants: 'fresh-install', debianCnf: 'fresh-install' } });
  return { ...target, root };
}

async function query<T>(socket: string, sql: string): Promise<T[]> {
  const db = await connect({ socket, user: 'root', describe: 'the benchmark MariaDB' });
  try {
    return await db.query<T>(sql);
  } finally {
    await db.close();
  }
}

/** Row count of accounting.cdr and number of tables in the given databases. */
async function fingerprint(socket: string, databases: string[]): Promise<{ cdrRows: number; tables: number }> {
  const [cdr] = await query<{ n: number }>(socket, 'SELECT COUNT(*) AS n FROM accounting.cdr');
  const [t] = await query<{ n: number }>(
    socket,
    `SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (${databases.map(quoteString).join(', ')})`,
  );
  return { cdrRows: Number(cdr!.n), tables: Number(t!.n) };
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await stat(path.join(e.parentPath, e.name))).size;
  }
  return total;
}

/** The mariadbd command line minus per-instance paths and ports: the options every instance shares. */
async function serverOptions(pid: number): Promise<string[]> {
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
  return argv
    .slice(1)
    .filter((a) => !/^--(datadir|socket|pid-file|port|tmpdir|log-error|log-bin|user)=/.test(a))
    .concat(argv.some((a) => a.startsWith('--log-bin=')) ? ['--log-bin'] : []);
}

async function main(): Promise<number> {
  const opt = options();
  bufferPoolMiB = opt.bufferPoolMiB;
  for (const [bin, pkg] of [
    [GNU_TIME, 'time'],
    [AWS, 'awscli'],
    ['/usr/bin/mydumper', 'mydumper'],
  ] as const) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing (apt-get install ${pkg}; scripts/setup.sh --tests installs it)`);
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: npm run build first`);
  const date = new Date().toISOString().slice(0, 10);
  const started = performance.now();

  const tmp = await mkdtemp(path.join(os.tmpdir(), 'ngcp-bench-'));
  await chmod(tmp, 0o700);
  onCleanup('remove the scratch directory', () => rm(tmp, { recursive: true, force: true }));
  const s3: BenchBucket = await createBenchBucket(path.join(tmp, 'aws'));
  onCleanup(`empty and delete bucket ${s3.bucket}`, () => s3.cleanup());
  log(`bucket ${s3.bucket} on ${RGW_ENDPOINT}, scratch ${tmp}`);

  const { identity, recipient } = await generateIdentity();
  const identityFile = path.join(tmp, 'identity.txt');
  await writeFile(identityFile, identity + '\n', { mode: 0o600 });

  // The source node.
  log(`building a sandbox node with ${opt.rows} cdr rows`);
  const source = await instance('source');
  const root = path.join(tmp, 'root');
  await mkdir(root);
  await createSandboxNode({ root, mysql: { socket: source.server.socket }, cdrRows: opt.rows });
  const databases = (await query<{ d: string }>(source.server.socket, 'SELECT SCHEMA_NAME AS d FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME'))
    .map((r) => r.d)
    .filter((d) => !SYSTEM_DATABASES.includes(d) && !DEFAULT_EXCLUDE.includes(d));
  const sourceFigures = await fingerprint(source.server.socket, databases);
  const [{ bp }] = (await query<{ bp: number }>(source.server.socket, 'SELECT @@innodb_buffer_pool_size AS bp')) as [{ bp: number }];
  const sharedOptions = await serverOptions(source.pid);

  const writeConfig = async (name: string, config: Record<string, unknown>): Promise<string> => {
    const file = path.join(tmp, name);
    await writeFile(file, stringify(config), { mode: 0o600 });
    return file;
  };
  const s3Repository = (prefix: string): Record<string, unknown> => ({ url: `s3://${s3.bucket}/${prefix}`, endpoint: RGW_ENDPOINT, path_style: true });
  const sourceConfig = await writeConfig('source.yml', {
    ...sandboxConfig({ root, socket: source.server.socket, repository: '/nonexistent', recipient }),
    repository: s3Repository('ngcp'),
  });

  const jobs: Record<string, Job> = {
    baseline: {
      id: 'baseline-backup',
      label: 'backup: `mariadb-dump --single-transaction | zstd -3 -T0 | age | aws s3 cp -`',
      note: 'baseline',
      runs: [],
    },
    mydumper: {
      id: 'mydumper-backup',
      label: 'backup: `mydumper -t 2 -c` to a local dir',
      note: 'anchor: gzip, no encryption, no upload',
      runs: [],
    },
    ngcp: { id: 'ngcp-backup', label: 'backup: `ngcp-backup backup`', runs: [] },
    baselineRestore: {
      id: 'baseline-restore',
      label: 'restore: `aws s3 cp - | age -d | zstd -d | mariadb`',
      note: 'baseline, fresh node',
      runs: [],
    },
    ngcpRestore: {
      id: 'ngcp-restore',
      label: 'restore: `ngcp-backup restore --only databases`',
      note: 'fresh node, figures checked',
      runs: [],
    },
    verify: { id: 'ngcp-verify', label: 'verify: `ngcp-backup verify`',
      note: 'no key', runs: [] },
  };
  const growthJob: Job = { id: 'ngcp-backup-4n', label: `backup: \`ngcp-backup backup\` at ${(opt.rows * 4).toLocaleString('en')} rows`, runs: [] };

  const baselineKeys: string[] = [];
  const snapshots: string[] = [];

  // Backups, interleaved so that a burst of other load on the machine spreads over all three.
  for (let i = 1; i <= opt.runs; i++) {
    const key = `baseline/dump-${i}.sql.zst.age`;
    log(`run ${i}/${opt.runs}: baseline backup`);
    const b = await measure(
      'baseline backup',
      pipeline(
        `mariadb-dump --socket="$1" --user=root --single-transaction --routines --triggers --events --databases "\${@:5}" | zstd -3 -T0 -q | age -r "$2" | ${AWS} --endpoint-url "$3" s3 cp --only-show-errors - "$4"`,
        source.server.socket,
        recipient,
        RGW_ENDPOINT,
        `s3://${s3.bucket}/${key}`,
        ...databases,
      ),
      { env: s3.env, serverPids: [source.pid] },
    );
    baselineKeys.push(key);
    jobs.baseline!.runs.push({ ...strip(b), bytes: await s3.size(key), detail: { key } });

    log(`run ${i}/${opt.runs}: mydumper`);
    const outDir = path.join(tmp, `mydumper-${i}`);
    const regex = `^(${databases.map((d) => d.replace(/[^A-Za-z0-9_]/g, (c) => `\\${c}`)).join('|')})\\.`;
    const m = await measure(
      'mydumper',
      ['mydumper', '--socket', source.server.socket, '--user', 'root', '--threads', '2', '--compress', '--triggers', '--events', '--routines', '--regex', regex, '--outputdir', outDir],
      { serverPids: [source.pid] },
    );
    jobs.mydumper!.runs.push({ ...strip(m), bytes: await dirBytes(outDir), detail: { files: (await readdir(outDir)).length } });
    await rm(outDir, { recursive: true, force: true });

    log(`run ${i}/${opt.runs}: ngcp-backup backup`);
    const n = await measure('ngcp-backup backup', [process.execPath, CLI, 'backup', '--json', '--quiet', '--config', sourceConfig], {
      env: s3.env,
      serverPids: [source.pid],
    });
    const out = JSON.parse(n.stdout) as { id: string; peakRssMiB: number; objects: number; summary: { rawBytes: number; storedBytes: number; lockMs: number; rows: number } };
    snapshots.push(out.id);
    jobs.ngcp!.runs.push({
      ...strip(n),
      bytes: out.summary.storedBytes,
      ownPeakRssMiB: out.peakRssMiB,
      detail: { id: out.id, objects: out.objects, rawBytes: out.summary.rawBytes, lockMs: out.summary.lockMs, rows: out.summary.rows },
    });
  }

  // Verify (no key) of the newest ngcp-backup snapshot.
  const snapshot = snapshots.at(-1)!;
  for (let i = 1; i <= opt.runs; i++) {
    log(`run ${i}/${opt.runs}: ngcp-backup verify`);
    const v = await measure('ngcp-backup verify', [process.execPath, CLI, 'verify', snapshot, '--json', '--config', sourceConfig], { env: s3.env });
    const out = JSON.parse(v.stdout) as { ok: boolean; bytes: number; objects: number; seconds: number; mbPerSecond: number };
    if (!out.ok) throw new JobFailed(`ngcp-backup verify reported problems: ${v.stdout}`);
    jobs.verify!.runs.push({ ...strip(v), bytes: out.bytes, detail: { objects: out.objects, ownSeconds: out.seconds, ownMbPerSecond: out.mbPerSecond } });
  }

  // Restores, each onto a freshly installed node: a new instance with the same options as the source.
  for (let i = 1; i <= opt.restoreRuns; i++) {
    const key = baselineKeys.at(-1)!;
    log(`restore run ${i}/${opt.restoreRuns}: baseline`);
    {
      const target = await freshNode(`baseline restore target ${i}`, path.join(tmp, `baseline-target-${i}`));
      const r = await measure(
        'baseline restore',
        pipeline(
          `${AWS} --endpoint-url "$1" s3 cp --only-show-errors "$2" - | age -d -i "$3" | zstd -d -q | mariadb --socket="$4" --user=root`,
          RGW_ENDPOINT,
          `s3://${s3.bucket}/${key}`,
          identityFile,
          target.server.socket,
        ),
        { env: s3.env, serverPids: [target.pid] },
      );
      const got = await fingerprint(target.server.socket, databases);
      if (got.cdrRows !== sourceFigures.cdrRows || got.tables !== sourceFigures.tables) {
        throw new JobFailed(`baseline restore: restored ${JSON.stringify(got)}, the source has ${JSON.stringify(sourceFigures)}`);
      }
      jobs.baselineRestore!.runs.push({ ...strip(r), bytes: await s3.size(key), detail: { checked: got } });
      await target.stop();
      await rm(path.join(tmp, `baseline-target-${i}`), { recursive: true, force: true });
    }
    log(`restore run ${i}/${opt.restoreRuns}: ngcp-backup restore`);
    {
      const dir = path.join(tmp, `ngcp-target-${i}`);
      const target = await freshNode(`ngcp-backup restore target ${i}`, dir);
      const work = path.join(dir, 'work');
      await mkdir(work, { mode: 0o700 });
      const config = await writeConfig(`restore-${i}.yml`, {
        node: { root: target.root },
        mysql: { socket: target.server.socket, defaults_file: '/etc/mysql/debian.cnf' },
        repository: s3Repository('ngcp'),
        encryption: { recipients: [recipient] },
        restore: { work_dir: work, apply_command: ['true'] },
      });
      const r = await measure(
        'ngcp-backup restore',
        [process.execPath, CLI, 'restore', snapshot, '--only', 'databases', '--identity', identityFile, '--yes', '--no-safety-snapshot', '--json', '--config', config],
        { env: s3.env, serverPids: [target.pid] },
      );
      const got = await fingerprint(target.server.socket, databases);
      if (got.cdrRows !== sourceFigures.cdrRows || got.tables !== sourceFigures.tables) {
        throw new JobFailed(`ngcp-backup restore: restored ${JSON.stringify(got)}, the source has ${JSON.stringify(sourceFigures)}`);
      }
      let tablesVerified: unknown;
      try {
        tablesVerified = (JSON.parse(r.stdout) as { tablesVerified?: number }).tablesVerified;
      } catch {
        /* not JSON: the figures were still checked above */
      }
      jobs.ngcpRestore!.runs.push({ ...strip(r), bytes: jobs.ngcp!.runs.at(-1)!.bytes, detail: { checked: got, tablesVerified } });
      await target.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }
  await source.stop();

  // Peak RSS at 4N rows: its own sandbox, one backup.
  if (opt.growth) {
    log(`building a sandbox node with ${opt.rows * 4} cdr rows (rss_growth)`);
    const big = await instance('4N source');
    const bigRoot = path.join(tmp, 'root-4n');
    await mkdir(bigRoot);
    await createSandboxNode({ root: bigRoot, mysql: { socket: big.server.socket }, cdrRows: opt.rows * 4 });
    const config = await writeConfig('source-4n.yml', {
      ...sandboxConfig({ root: bigRoot, socket: big.server.socket, repository: '/nonexistent', recipient }),
      repository: s3Repository('ngcp-4n'),
    });
    log('ngcp-backup backup at 4N');
    const g = await measure('ngcp-backup backup at 4N', [process.execPath, CLI, 'backup', '--json', '--quiet', '--config', config], {
      env: s3.env,
      serverPids: [big.pid],
    });
    const out = JSON.parse(g.stdout) as { id: string; peakRssMiB: number; summary: { rawBytes: number; storedBytes: number } };
    growthJob.runs.push({ ...strip(g), bytes: out.summary.storedBytes, ownPeakRssMiB: out.peakRssMiB, detail: { id: out.id, rawBytes: out.summary.rawBytes } });
    await big.stop();
  }

  const medWall = (j: Job): number => median(j.runs.map((r) => r.wallS));
  const peak = Math.max(...jobs.ngcp!.runs.map((r) => r.ownPeakRssMiB ?? NaN));
  const figures = {
    rows: opt.rows,
    backup_ratio: round(medWall(jobs.ngcp!) / medWall(jobs.baseline!), 3),
    restore_ratio: round(medWall(jobs.ngcpRestore!) / medWall(jobs.baselineRestore!), 3),
    peak_rss_mib: peak,
    rss_growth: growthJob.runs.length ? round(growthJob.runs[0]!.ownPeakRssMiB! / peak, 3) : null,
    // What verify itself reports (from its first read to its last hash); the process's start-up
    // (loading the AWS SDK, reading the config, about 0.5 s) is in verify_wall_mb_s.
    verify_mb_s: round(median(jobs.verify!.runs.map((r) => Number((r.detail as { ownMbPerSecond: number }).ownMbPerSecond))), 1),
    verify_wall_mb_s: round(median(jobs.verify!.runs.map((r) => r.bytes)) / 1e6 / medWall(jobs.verify!), 1),
  };
  const versions: Record<string, string> = {
    node: process.version,
    MariaDB: await mariadbVersion(),
    'mariadb-dump': await versionOf('mariadb-dump'),
    zstd: await versionOf('zstd', ['-V']),
    age: await versionOf('age', ['--version']),
    awscli: await versionOf(AWS, ['--version']),
    mydumper: await versionOf('mydumper', ['--version']),
    'GNU time': `Debian time ${await versionOf('dpkg-query', ['-W', '-f=${Version}', 'time'])}`,
  };
  const results: Results = {
    date,
    runs: opt.runs,
    restoreRuns: opt.restoreRuns,
    growthRows: opt.growth ? opt.rows * 4 : null,
    machine: await machineAtStart,
    versions,
    serverOptions: sharedOptions,
    innodbBufferPoolMiB: Math.round(Number(bp) / 2 ** 20),
    databases,
    method: METHOD,
    jobs: [...Object.values(jobs), ...(opt.growth ? [growthJob] : [])],
    ...figures,
    targetsApply: opt.rows >= TARGET_MIN_ROWS,
    targets: targets(figures),
  };

  await mkdir(opt.out, { recursive: true });
  // Never over an earlier result (a committed one of the same day): -2, -3, ... instead.
  let base = path.join(opt.out, `${date}-${opt.rows}`);
  for (let n = 2; existsSync(`${base}.md`) || existsSync(`${base}.json`); n++) base = path.join(opt.out, `${date}-${opt.rows}-${n}`);
  await writeFile(`${base}.md`, markdown(results));
  await writeFile(`${base}.json`, JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(
    [
      '',
      `${opt.rows.toLocaleString('en')} cdr rows; ${results.machine.cores} x ${results.machine.cpu}; innodb_buffer_pool_size ${results.innodbBufferPoolMiB} MiB`,
      '',
      jobTable(results.jobs),
      '',
      `backup_ratio ${figures.backup_ratio}, restore_ratio ${figures.restore_ratio}, peak_rss_mib ${figures.peak_rss_mib}, rss_growth ${figures.rss_growth ?? 'not measured'}, verify_mb_s ${figures.verify_mb_s}`,
      ...targetLines(results),
      '',
      `written: ${base}.md, ${base}.json (${((performance.now() - started) / 1000).toFixed(0)} s in all)`,
      '',
    ].join('\n'),
  );
  return 0;
}

const machineAtStart = machine();

const METHOD = [
  'Wall time: measured by bench/run.ts around the spawn of each job (performance.now), process start-up included.',
  "CPU s: user+sys of the job's whole process tree from GNU time (`/usr/bin/time -f '%e %U %S %M'`, wait4() rusage, into which Linux folds every waited-for descendant: bash, mariadb-dump, zstd, age, aws, node and its zstd children).",
  'Server CPU s: utime+stime of the MariaDB server the job reads from or loads into, from /proc/<pid>/stat before and after the job. The Ceph RGW gateway is shared and its CPU is not counted.',
  "Peak RSS MiB (tree): GNU time's maxrss, the largest resident set of any one process in the job's tree (not a sum). Own peak RSS: what `ngcp-backup backup --json` reports for its own process (getrusage); peak_rss_mib and rss_growth use this one.",
  'Bytes: the stored object size (baseline, from S3 HEAD), the sum of the files mydumper wrote, the snapshot\'s stored bytes (ngcp-backup backup; restore reads the same), the bytes verify checked.',
  'Backup jobs run interleaved (baseline, mydumper, ngcp-backup; then again), each run a new object or snapshot in one fresh bucket; the source server stays up between runs, so every run after the first reads a warm buffer pool.',
  'Restores: each run onto a freshly installed node: a new scratch instance (template datadir copy, same server options as the source, binlog on) holding the NGCP service users and databases with 10 cdr rows (as restore.test.ts\'s bare-metal case; views and routines need their definers), of the newest baseline dump and the newest ngcp-backup snapshot. The baseline restore is checked by comparing the row count of accounting.cdr and the number of tables with the source; ngcp-backup restore checks every table\'s row count and checksum itself, and the same comparison is made.',
  'Credentials: awscli and ngcp-backup read AWS_SHARED_CREDENTIALS_FILE/AWS_CONFIG_FILE in a 0700 temp directory; no secret is on any command line.',
  'mydumper anchors what a parallel C dumper does on this machine: it compresses with gzip (Debian 12\'s 0.10 has no zstd), neither encrypts nor uploads.',
];

function strip(m: Awaited<ReturnType<typeof measure>>): Omit<Run, 'bytes'> {
  const { stdout: _stdout, ...rest } = m;
  return {
    ...rest,
    wallS: round(rest.wallS, 3),
    cpuS: round(rest.cpuS, 2),
    treePeakRssMiB: round(rest.treePeakRssMiB, 1),
    serverCpuS: round(rest.serverCpuS, 2),
  };
}

function round(v: number, digits: number): number {
  const p = 10 ** digits;
  return Math.round(v * p) / p;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  // After a signal, the jobs fail because their servers are being stopped: not worth a report.
  if (!signalled) process.stderr.write(`bench: ${error instanceof JobFailed ? (error as Error).message : `failed: ${(error as Error).stack ?? String(error)}`}\n`);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
