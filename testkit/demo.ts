import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { generateIdentity } from '../src/crypto/age.js';
import { startMariadbInstance } from './scratch-mariadb.js';
import { createSandboxNode, sandboxConfig } from './node.js';

/**
 * `npm run demo`: the main job on an embedded default. A sandbox NGCP node (a scratch MariaDB
 * with NGCP's databases, and a node file tree), backed up with the real CLI to a file://
 * repository, then listed and verified. The repository and config stay for a look.
 */
const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');

async function main(): Promise<void> {
  const rows = Number(/^--rows=(\d+)$/.exec(process.argv[2] ?? '')?.[1] ?? 20000);
  const dir = process.env['NGCP_BACKUP_DEMO_DIR'] ?? path.join(os.tmpdir(), 'ngcp-backup-demo');
  await rm(dir, { recursive: true, force: true });
  const root = path.join(dir, 'node');
  const repo = path.join(dir, 'repository');
  await mkdir(root, { recursive: true });
  await mkdir(repo, { recursive: true, mode: 0o700 });

  say(`starting a scratch MariaDB and building a sandbox node (${rows} CDRs) in ${dir}`);
  const server = await startMariadbInstance({ binlog: true });
  try {
    await createSandboxNode({ root, mysql: { socket: server.socket }, cdrRows: rows });
    const { identity, recipient } = await generateIdentity();
    const identityFile = path.join(dir, 'identity.txt');
    await writeFile(identityFile, identity + '\n', { mode: 0o600 });
    const config = path.join(dir, 'config.yml');
    await writeFile(
      config,
      stringify(sandboxConfig({ root, socket: server.socket, repository: repo, recipient })),
      { mode: 0o600 },
    );
    await cli(['backup', '--kind', 'manual', '--note', 'demo', '--config', config]);
    await cli(['list', '--config', config]);
    await cli(['verify', '--latest', '--config', config]);
    say(
      [
        'demo done:',
        `  config:     ${config}`,
        `  repository: ${repo}`,
        `  identity:   ${identityFile} (the secret key; on a real node it lives elsewhere)`,
        `  try: age -d -i ${identityFile} ${repo}/snapshots/spce/<id>/db/accounting/cdr.0001.sql.zst.age | zstd -d | head`,
      ].join('\n'),
    );
  } finally {
    await server.stop();
  }
}

function say(text: string): void {
  process.stdout.write(`\n== ${text}\n`);
}

function cli(args: string[]): Promise<void> {
  say(`ngcp-backup ${args.filter((a, i) => args[i - 1] !== '--config' && a !== '--config').join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ngcp-backup ${args[0]} exited with ${code}`))));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
