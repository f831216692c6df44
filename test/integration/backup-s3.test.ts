import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ExitCode } from '../../src/errors.js';
import type { Manifest } from '../../src/format/manifest.js';
import { s3TestRepository } from '../helpers/s3.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { restoreByHand } from '../helpers/by-hand.js';

const execFileAsync = promisify(execFile);

// Serial: the tests share one node, and a node's backups hold its lock one at a time.
let node: TestNode;
test.before(async () => {
  node = await startTestNode({ cdrRows: 3000 });
});
test.after.always(async () => node?.stop());

function s3Config(repo: { url: string; endpoint: string }): Record<string, any> {
  return { ...node.baseConfig(), repository: { url: repo.url, endpoint: repo.endpoint, path_style: true } };
}

test.serial('a sandbox node backs up to S3 (Ceph RGW); awscli + age + zstd + mariadb restore it by hand', async (t) => {
  const repo = await s3TestRepository();
  try {
    const config = await node.writeConfig(s3Config(repo), 's3.yml');
    const r = await node.cli(['backup', '--kind', 'pre-upgrade', '--note', 'before mr13.5', '--json'], { config, env: repo.env });
    t.is(r.code, 0, r.stderr);
    const { id } = JSON.parse(r.stdout) as { id: string };

    const verify = await node.cli(['verify', id], { config, env: repo.env });
    t.is(verify.code, 0, verify.stderr);
    const list = await node.cli(['list', '--json'], { config, env: repo.env });
    const listed = JSON.parse(list.stdout) as Array<{ id: string; kind: string; note: string }>;
    t.deepEqual(listed.map((s) => [s.id, s.kind, s.note]), [[id, 'pre-upgrade', 'before mr13.5']]);

    // Break-glass style: Debian's awscli downloads, age and zstd decode, mariadb loads.
    const dl = await mkdtemp(path.join(os.tmpdir(), 'ngcp-s3-dl-'));
    const prefix = `${repo.prefix ? repo.prefix + '/' : ''}snapshots/spce/${id}`;
    const awsEnv = { ...process.env, ...repo.env, AWS_EC2_METADATA_DISABLED: 'true' };
    await execFileAsync('/usr/bin/aws', ['--endpoint-url', repo.endpoint, 's3', 'cp', '--recursive', '--only-show-errors', `s3://${repo.bucket}/${prefix}/`, dl], { env: awsEnv });
    const manifest = JSON.parse((await import('node:fs')).readFileSync(path.join(dl, 'manifest.json'), 'utf8')) as Manifest;
    t.is(manifest.id, id);
    const { cleanup } = await restoreByHand(t, manifest, async (name) => path.join(dl, name), node.identityFile);
    await cleanup();
  } finally {
    await repo.cleanup();
  }
});

test.serial('wrong S3 credentials: exit 13, no secret in the output, nothing stored', async (t) => {
  const repo = await s3TestRepository();
  try {
    const config = await node.writeConfig(s3Config(repo), 's3-bad-creds.yml');
    const badSecret = 'wrongsecretkey-0123456789abcdef';
    const r = await node.cli(['backup'], { config, env: { ...repo.env, AWS_SECRET_ACCESS_KEY: badSecret } });
    t.is(r.code, ExitCode.repositoryAccess, r.stderr);
    t.regex(r.stderr, new RegExp(repo.bucket));
    t.false(r.stderr.includes(badSecret));
    t.false(r.stdout.includes(badSecret));
    const list = await node.cli(['list', '--json'], { config, env: repo.env });
    t.deepEqual(JSON.parse(list.stdout), []);
  } finally {
    await repo.cleanup();
  }
});

test.serial('a missing bucket: exit 10, names the bucket', async (t) => {
  const repo = await s3TestRepository();
  try {
    const config = await node.writeConfig(s3Config({ url: 's3://no-such-bucket-ngcp/x', endpoint: repo.endpoint }), 's3-no-bucket.yml');
    const r = await node.cli(['backup'], { config, env: repo.env });
    t.is(r.code, ExitCode.repositoryUnreachable, r.stderr);
    t.regex(r.stderr, /no-such-bucket-ngcp/);
  } finally {
    await repo.cleanup();
  }
});
