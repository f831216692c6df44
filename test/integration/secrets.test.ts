import test from 'ava';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseOptionFile } from '../../src/mysql/credentials.js';
import { s3TestRepository } from '../helpers/s3.js';
import { sandboxService } from '../../testkit/node.js';
import { startTestNode, type TestNode } from '../helpers/node.js';

// Invariant 9: no secret in any process's argv, in logs, in error output, or in files others
// can read. While a backup runs, every process's command line is sampled from /proc.
// Serial: the tests share one node, and a node's backups hold its lock one at a time.
let node: TestNode;
test.before(async () => {
  node = await startTestNode({ cdrRows: 30_000 });
});
test.after.always(async () => node?.stop());

function sampleArgv(secrets: string[]): { stop: () => Promise<{ samples: number; leaks: string[] }> } {
  let running = true;
  let samples = 0;
  const leaks = new Set<string>();
  const loop = (async () => {
    while (running) {
      for (const pid of await readdir('/proc').catch(() => [])) {
        if (!/^\d+$/.test(pid)) continue;
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        for (const s of secrets) if (cmdline.includes(s)) leaks.add(cmdline.replace(/\0/g, ' '));
      }
      samples++;
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { samples, leaks: [...leaks] };
    },
  };
}

test.serial('no MySQL password or S3 secret key in argv, output or world-readable files', async (t) => {
  const repo = await s3TestRepository();
  try {
    const cnf = parseOptionFile(await readFile(path.join(node.root, 'etc/mysql/debian.cnf'), 'utf8'));
    const secrets = [cnf['password']!, repo.env.AWS_SECRET_ACCESS_KEY, node.identity.slice(16)];
    t.true(cnf['password']!.length >= 8);
    const config = await node.writeConfig({ ...node.baseConfig(), repository: { url: repo.url, endpoint: repo.endpoint } }, 's3.yml');

    const sampler = sampleArgv(secrets);
    const ok = await node.cli(['backup', '--json'], { config, env: repo.env });
    const failing = await node.cli(['backup'], { config, env: { ...repo.env, AWS_ACCESS_KEY_ID: 'nosuchkey' } });
    const { samples, leaks } = await sampler.stop();
    t.is(ok.code, 0, ok.stderr);
    t.not(failing.code, 0);
    t.true(samples > 5, `sampled /proc ${samples} times`);
    t.deepEqual(leaks, [], 'no secret in any command line');
    for (const out of [ok.stdout, ok.stderr, failing.stdout, failing.stderr]) {
      for (const s of secrets) t.false(out.includes(s), 'no secret in output');
    }

    // The repository: what it stores is encrypted; the public manifest holds no secret.
    const { id } = JSON.parse(ok.stdout) as { id: string };
    const list = await node.cli(['list', '--json'], { config, env: repo.env });
    for (const s of secrets) t.false(list.stdout.includes(s));
    t.truthy(id);
  } finally {
    await repo.cleanup();
  }
});

test.serial('files the tool writes are not world-readable (file:// repository, keygen identity)', async (t) => {
  const r = await node.cli(['backup']);
  t.is(r.code, 0, r.stderr);
  const entries = await readdir(node.repoDir, { recursive: true, withFileTypes: true });
  t.true(entries.length > 10);
  for (const e of entries) {
    const mode = (await stat(path.join(e.parentPath, e.name))).mode & 0o777;
    t.is(mode & 0o077, 0, `${e.name} mode ${mode.toString(8)}`);
  }
  // The run record is private; the log is not world-readable (group adm may read logs).
  const service = sandboxService(node.root);
  t.is((await stat(path.join(service.state_dir, 'job-backup.json'))).mode & 0o777, 0o600);
  t.is((await stat(service.log_file)).mode & 0o007, 0);
  const keyFile = path.join(node.dir, 'new-identity.txt');
  const k = await node.cli(['keygen', '--output', keyFile]);
  t.is(k.code, 0, k.stderr);
  t.regex(k.stdout.trim(), /^age1[0-9a-z]{58}$/);
  t.is((await stat(keyFile)).mode & 0o777, 0o600);
  t.false(k.stdout.includes('AGE-SECRET-KEY'), 'the identity is not printed');
  const again = await node.cli(['keygen', '--output', keyFile]);
  t.is(again.code, 12, 'an existing identity is never overwritten');
});
