import test from 'ava';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode } from '../../src/errors.js';
import { CLI, PROJECT, runCommand, startTestNode, type TestNode } from '../helpers/node.js';

const WRAPPER = path.join(PROJECT, 'contrib/ngcp-upgrade-with-snapshot');

let node: TestNode;
let bin: string;
test.before(async () => {
  node = await startTestNode({ cdrRows: 500 });
  bin = path.join(node.dir, 'bin');
  await mkdir(bin);
  // ngcp-backup as installed (on PATH), and a stand-in for ngcp-upgrade that records its
  // arguments and how many pre-upgrade snapshots existed when it ran.
  await writeFile(path.join(bin, 'ngcp-backup'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  await writeFile(
    path.join(bin, 'ngcp-upgrade'),
    `#!/bin/sh\nprintf '%s\\n' "$@" > "$UPGRADE_RECORD"\nngcp-backup list --json >> "$UPGRADE_RECORD"\nexit "\${UPGRADE_EXIT:-0}"\n`,
  );
  await chmod(path.join(bin, 'ngcp-backup'), 0o755);
  await chmod(path.join(bin, 'ngcp-upgrade'), 0o755);
});
test.after.always(async () => node?.stop());

async function wrapper(name: string, config: string, env: Record<string, string> = {}, args = ['--yes', 'mr13.5']) {
  const record = path.join(node.dir, `${name}.record`);
  const r = await runCommand(WRAPPER, args, {
    ...process.env,
    PATH: `${bin}:${process.env.PATH}`,
    NGCP_BACKUP_CONFIG: config,
    NGCP_ROOT: node.root,
    UPGRADE_RECORD: record,
    ...env,
  });
  const recorded = await readFile(record, 'utf8').catch(() => undefined);
  return { ...r, recorded };
}

test.serial('snapshot, verify, then the upgrade with the same arguments; its exit code is the result', async (t) => {
  const config = await node.writeConfig(node.baseConfig(), 'pre-upgrade.yml');
  const ok = await wrapper('ok', config);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /^snapshot \S+ \(pre-upgrade\) of node spce stored/m);
  t.regex(ok.stdout, /verified/);
  t.truthy(ok.recorded, 'the upgrade did not run');
  const [a1, a2, ...listed] = ok.recorded!.split('\n');
  t.deepEqual([a1, a2], ['--yes', 'mr13.5']);
  const snapshots = JSON.parse(listed.join('\n')) as Array<{ kind: string; note: string }>;
  t.deepEqual(snapshots.map((s) => [s.kind, s.note]), [['pre-upgrade', `before ngcp-upgrade from ${node.sandbox.ngcpVersion}`]]);

  const failedUpgrade = await wrapper('upgrade-fails', config, { UPGRADE_EXIT: '7', NGCP_SNAPSHOT_VERIFY: '0' });
  t.is(failedUpgrade.code, 7, failedUpgrade.stderr);
  t.truthy(failedUpgrade.recorded);
});

test.serial('a failed snapshot stops the upgrade with ngcp-backup exit code', async (t) => {
  const config = await node.writeConfig({ ...node.baseConfig(), repository: { url: `file://${node.dir}/no-such-repo` } }, 'pre-upgrade-bad.yml');
  const r = await wrapper('bad', config);
  t.is(r.code, ExitCode.repositoryUnreachable, r.stderr);
  t.regex(r.stderr, /the pre-upgrade snapshot failed \(exit 10\): NOT upgrading/);
  t.is(r.recorded, undefined, 'the upgrade ran');

  const noUpgrade = await wrapper('missing', config, { NGCP_UPGRADE: 'no-such-ngcp-upgrade' });
  t.is(noUpgrade.code, ExitCode.usage);
  t.regex(noUpgrade.stderr, /no-such-ngcp-upgrade not found/);
});
