/**
 * Peak RSS of `ngcp-backup backup` for a sandbox node and for one 10x larger (issue 2):
 * memory must be bounded by configuration, not by the data. Each size gets its own scratch
 * MariaDB and file:// repository; the CLI runs as an operator runs it and reports its own
 * peak RSS (getrusage maxrss). Usage: node dist/bench/rss.js [--rows N] (default 100000)
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { generateIdentity } from '../src/crypto/age.js';
import { startMariadbInstance } from '../src/sandbox/mariadb-instance.js';
import { createSandboxNode, sandboxConfig } from '../src/sandbox/node.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');

interface Run {
  rows: number;
  peakRssMiB: number;
  rawMiB: number;
  storedMiB: number;
  seconds: number;
}

async function measure(rows: number): Promise<Run> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ngcp-bench-rss-'));
  const server = await startMariadbInstance({ binlog: true });
  try {
    const root = path.join(dir, 'root');
    await mkdir(root);
    await mkdir(path.join(dir, 'repo'));
    await createSandboxNode({ root, mysql: { socket: server.socket }, cdrRows: rows });
    const { recipient } = await generateIdentity();
    const config = path.join(dir, 'config.yml');
    await writeFile(
      config,
      stringify(sandboxConfig({ root, socket: server.socket, repository: path.join(dir, 'repo'), recipient })),
    );
    const out = await run([CLI, 'backup', '--json', '--quiet', '--config', config]);
    const r = JSON.parse(out) as { peakRssMiB: number; summary: { rawBytes: number; storedBytes: number; durationMs: number } };
    return { rows, peakRssMiB: r.peakRssMiB, rawMiB: r.summary.rawBytes / 2 ** 20, storedMiB: r.summary.storedBytes / 2 ** 20, seconds: r.summary.durationMs / 1000 };
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`backup exited ${code}`))));
  });
}

const rowsArg = process.argv.indexOf('--rows');
const base = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 100_000;
const small = await measure(base);
const large = await measure(base * 10);
const fmt = (r: Run) => `${String(r.rows).padStart(9)} rows: raw ${r.rawMiB.toFixed(0).padStart(5)} MiB, stored ${r.storedMiB.toFixed(0).padStart(4)} MiB, ${r.seconds.toFixed(1).padStart(5)} s, peak RSS ${r.peakRssMiB} MiB`;
process.stdout.write(`${fmt(small)}\n${fmt(large)}\nrss ratio (10x data / 1x): ${(large.peakRssMiB / small.peakRssMiB).toFixed(2)} (target <= 1.2)\n`);
