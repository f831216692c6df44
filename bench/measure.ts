/**
 * How the benchmark measures one job (bench/run.ts): the job's command runs under GNU time
 * (`/usr/bin/time -f '%e %U %S %M'`), whose figures come from wait4() on its child. Linux folds
 * every waited-for descendant into that rusage, so user+sys is the CPU of the whole process tree
 * (bash, mariadb-dump, zstd, age, aws, node and its zstd children, ...), and maxrss is the largest
 * resident set of any single process in that tree (not a sum). Wall time is taken here around the
 * spawn (performance.now), so it includes process start-up. The MariaDB server is not a child:
 * its CPU over the job is read from /proc/<pid>/stat (utime+stime) before and after, and reported
 * separately. The shared Ceph gateway's CPU is not counted (other test runs use it too).
 */
import { spawn, execFile } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
export const GNU_TIME = '/usr/bin/time';

export interface Measured {
  wallS: number;
  /** user+sys of the whole process tree. */
  cpuS: number;
  userS: number;
  sysS: number;
  /** Largest RSS of any one process of the tree, MiB. */
  treePeakRssMiB: number;
  /** CPU of the MariaDB server(s) the job talked to, over the job. */
  serverCpuS: number;
  stdout: string;
}

export class JobFailed extends Error {}

let clkTck: number | undefined;
async function ticksPerSecond(): Promise<number> {
  if (clkTck === undefined) {
    const { stdout } = await execFileAsync('getconf', ['CLK_TCK']);
    clkTck = Number(stdout.trim()) || 100;
  }
  return clkTck;
}

/** utime+stime of one process in seconds (fields 14 and 15 of /proc/<pid>/stat). */
export async function processCpuS(pid: number): Promise<number> {
  // A server that is gone (stopped by a signal's cleanup) has no figure; the job fails anyway.
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (stat === '') return NaN;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / (await ticksPerSecond());
}

/** The job running now, so that a signal can stop its whole process group. */
let current: { pid: number } | undefined;
export function killCurrentJob(): void {
  if (current) {
    try {
      process.kill(-current.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
}

/**
 * Runs argv under GNU time in its own process group; resolves with the figures, rejects with
 * JobFailed (and the tail of stderr) when it exits non-zero. serverPids: MariaDB servers whose
 * CPU over the job is added up into serverCpuS.
 */
export async function measure(
  name: string,
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; serverPids?: number[] } = {},
): Promise<Measured> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ngcp-bench-time-'));
  const timeFile = path.join(dir, 'time');
  try {
    const pids = options.serverPids ?? [];
    const before = await Promise.all(pids.map(processCpuS));
    const start = performance.now();
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(GNU_TIME, ['-o', timeFile, '-f', '%e %U %S %M', ...argv], {
        env: options.env ?? process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      current = { pid: child.pid! };
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (err = (err + d.toString('utf8')).slice(-8000)));
      child.on('error', reject);
      child.on('close', (c, signal) => resolve({ code: c ?? (signal ? 128 : -1), stdout: out, stderr: err }));
    });
    const wallS = (performance.now() - start) / 1000;
    current = undefined;
    const after = await Promise.all(pids.map(processCpuS));
    if (code !== 0) {
      throw new JobFailed(`${name} failed (exit ${code}):\n${stderr.trim().split('\n').slice(-15).join('\n')}`);
    }
    // GNU time writes "Command exited with non-zero status N" first on failure; the figures last.
    const last = (await readFile(timeFile, 'utf8')).trim().split('\n').at(-1) ?? '';
    const [, user, sys, maxKiB] = last.split(/\s+/).map(Number);
    if ([user, sys, maxKiB].some((v) => v === undefined || !Number.isFinite(v))) {
      throw new JobFailed(`${name}: cannot read GNU time's figures: ${JSON.stringify(last)}`);
    }
    return {
      wallS,
      userS: user!,
      sysS: sys!,
      cpuS: user! + sys!,
      treePeakRssMiB: maxKiB! / 1024,
      serverCpuS: after.reduce((s, v, i) => s + v - before[i]!, 0),
      stdout,
    };
  } finally {
    current = undefined;
    await rm(dir, { recursive: true, force: true });
  }
}

/** `bash -o pipefail -c SCRIPT bench ARGS...`: a pipeline whose values arrive as $1, $2, ... */
export function pipeline(script: string, ...args: string[]): string[] {
  return ['bash', '-o', 'pipefail', '-c', script, 'bench', ...args];
}

/** First line of `cmd args` (stdout, else stderr), for the versions table. */
export async function versionOf(cmd: string, args: string[] = ['--version']): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(cmd, args, { env: { ...process.env, AWS_PAGER: '' } });
    return (stdout.trim() || stderr.trim()).split('\n')[0]!.trim();
  } catch (error) {
    return `unavailable (${(error as Error).message.split('\n')[0]})`;
  }
}

/** CPU model, cores, RAM, kernel. */
export async function machine(): Promise<{ cpu: string; cores: number; ramGiB: number; kernel: string; loadavg: number[] }> {
  const info = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    cpu,
    cores: os.cpus().length,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    loadavg: os.loadavg().map((v) => Math.round(v * 100) / 100),
  };
}
