import test from 'ava';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import type { Manifest } from '../../src/format/manifest.js';
import { SEED_FILES } from '../../src/ngcp/files.js';
import { readJson, startTestNode, type TestNode } from '../helpers/node.js';
import { fileMode, restoreByHand, sameContent } from '../helpers/by-hand.js';

let node: TestNode;
test.before(async () => {
  node = await startTestNode({ cdrRows: 3000 });
});
test.after.always(async () => node?.stop());

test('a sandbox node backs up to file://, lists, verifies, and restores by hand with age, zstd and mariadb', async (t) => {
  const backup = await node.cli(['backup', '--kind', 'nightly', '--json']);
  t.is(backup.code, 0, backup.stderr);
  const summary = JSON.parse(backup.stdout) as { id: string; node: string; summary: Manifest['summary'] };
  t.is(summary.node, 'spce');
  t.true(summary.summary.rows > 3000);

  const snapDir = path.join(node.repoDir, 'snapshots', 'spce', summary.id);
  const manifest = await readJson<Manifest>(path.join(snapDir, 'manifest.json'));
  t.is(manifest.kind, 'nightly');
  t.deepEqual(manifest.recipients, [node.recipient]);
  t.false(manifest.databases.includes('syslog'), 'syslog excluded by default');
  t.false(manifest.databases.includes('sipstats'), 'sipstats excluded by default');
  t.true(manifest.databases.includes('accounting'));
  for (const o of manifest.objects) {
    t.is((await lstat(path.join(snapDir, o.name))).size, o.size, o.name);
    t.is(await fileMode(path.join(snapDir, o.name)), 0o600, `${o.name} is not world-readable`);
  }

  const list = await node.cli(['list', '--json']);
  t.is(list.code, 0, list.stderr);
  t.deepEqual((JSON.parse(list.stdout) as Array<{ id: string }>).map((s) => s.id), [summary.id]);
  const verify = await node.cli(['verify', '--latest']);
  t.is(verify.code, 0, verify.stderr);
  t.regex(verify.stdout, /verified/);

  const { details, filesDir, cleanup } = await restoreByHand(t, manifest, async (name) => path.join(snapDir, name), node.identityFile);
  t.is(details.ngcpVersion, node.sandbox.ngcpVersion);
  t.truthy(details.binlog?.file, 'binlog coordinates recorded');
  t.true(details.lockMs >= 0);
  const cdr = details.databases.find((d) => d.name === 'accounting')!.tables.find((x) => x.name === 'cdr')!;
  t.is(cdr.rows, 3000);
  const merge = details.databases.flatMap((d) => d.tables).find((x) => x.engine?.toUpperCase().startsWith('MRG'));
  t.is(merge, undefined, 'syslog (with the MERGE table) is excluded by default');

  for (const file of [...SEED_FILES, '/etc/mysql/sipwise.cnf']) {
    const original = path.join(node.root, file);
    const copy = path.join(filesDir, file);
    t.true(await sameContent(original, copy), `${file} content`);
    t.is(await fileMode(copy), await fileMode(original), `${file} mode`);
  }
  const git = await lstat(path.join(filesDir, 'etc/ngcp-config/.git/HEAD'));
  t.true(git.isFile(), '/etc/ngcp-config/.git is in the files artifact');
  const certs = details.files.filter((f) => /\.(crt|key|pem)$/.test(f.path)).map((f) => f.path);
  t.true(certs.some((c) => !c.startsWith('/etc/ngcp-config/')), `a certificate outside /etc/ngcp-config: ${certs.join(', ')}`);
  await cleanup();
});
