import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { startMariadbInstance, type MariadbInstance } from '../../testkit/scratch-mariadb.js';
import { createSandboxNode, sandboxConfig, type SandboxNode } from '../../testkit/node.js';
import { generateIdentity } from '../../src/crypto/age.js';

const execFileAsync = promisify(execFile);
export const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = path.join(PROJECT, 'dist/src/cli/main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestNode {
  dir: string;
  root: string;
  server: MariadbInstance;
  sandbox: SandboxNode;
  identity: string;
  identityFile: string;
  recipient: string;
  repoDir: string;
  /** The config a test starts from: file:// repository, debian.cnf credentials. */
  baseConfig(): Record<string, any>;
  writeConfig(config: Record<string, any>, name?: string): Promise<string>;
  cli(args: string[], options?: { env?: NodeJS.ProcessEnv; config?: string }): Promise<CliResult>;
  stop(): Promise<void>;
}

/** A scratch MariaDB, a sandbox NGCP node on it, an age identity and a file:// repository. */
export async function startTestNode(options: { cdrRows?: number; binlog?: boolean; secrets?: { constants?: string; debianCnf?: string } } = {}): Promise<TestNode> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ngcp-backup-test-'));
  const root = path.join(dir, 'root');
  const repoDir = path.join(dir, 'repo');
  await execFileAsync('mkdir', ['-p', root, repoDir]);
  const server = await startMariadbInstance({ binlog: options.binlog ?? true });
  const sandbox = await createSandboxNode({ root, mysql: { socket: server.socket }, cdrRows: options.cdrRows ?? 2000, secrets: options.secrets });
  const { identity, recipient } = await generateIdentity();
  const identityFile = path.join(dir, 'identity.txt');
  await writeFile(identityFile, identity + '\n', { mode: 0o600 });
  const node: TestNode = {
    dir,
    root,
    server,
    sandbox,
    identity,
    identityFile,
    recipient,
    repoDir,
    baseConfig: () => sandboxConfig({ root, socket: server.socket, repository: repoDir, recipient }),
    async writeConfig(config, name = 'config.yml') {
      const file = path.join(dir, name);
      await writeFile(file, stringify(config), { mode: 0o600 });
      await chmod(file, 0o600);
      return file;
    },
    async cli(args, opts = {}) {
      const config = opts.config ?? (await node.writeConfig(node.baseConfig()));
      return runCli([...args, '--config', config], opts.env);
    },
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return node;
}

/** Runs the real CLI in a child process (what an operator runs). */
export function runCli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  return runCommand(process.execPath, [CLI, ...args], { ...process.env, ...env });
}

/** Runs a command to its end and collects its exit code and output. */
export function runCommand(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** age -d with the identity, then zstd -d when asked: the standard tools, as break-glass uses them. */
export async function decryptWithCli(file: string, identityFile: string, decompress: boolean): Promise<Buffer> {
  const script = decompress ? 'age -d -i "$1" "$2" | zstd -d -q -c' : 'age -d -i "$1" "$2"';
  const { stdout } = await execFileAsync('bash', ['-o', 'pipefail', '-c', script, 'x', identityFile, file], { encoding: 'buffer', maxBuffer: 1 << 30 });
  return stdout;
}

export async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}
