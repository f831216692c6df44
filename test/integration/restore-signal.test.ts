import test from 'ava';
import { sandboxService } from '../../testkit/node.js';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ExitCode } from '../../src/errors.js';
import { CLI, startTestNode, type TestNode } from '../helpers/node.js';
import { ngcpcfgStandIn } from '../helpers/ngcpcfg.js';

let source: TestNode;
let target: TestNode;
test.before(async () => {
  [source, target] = await Promise.all([startTestNode({ cdrRows: 150_000 }), startTestNode({ cdrRows: 10 })]);
  const r = await source.cli(['backup']);
  if (r.code !== 0) throw new Error(r.stderr);
});
test.after.always(async () => Promise.all([source?.stop(), target?.stop()]));

test('SIGTERM in the middle of a restore: stops cleanly, says what was restored and how to roll back', async (t) => {
  const ngcpcfg = await ngcpcfgStandIn(path.join(target.dir, 'ngcpcfg'), { file: path.join(target.root, 'etc/ngcp-config/constants.yml'), socket: target.server.socket });
  const config = await target.writeConfig({
    node: { root: target.root },
    mysql: { socket: target.server.socket, defaults_file: '/etc/mysql/debian.cnf' },
    repository: { url: `file://${source.repoDir}` },
    encryption: { recipients: [source.recipient] },
    restore: { work_dir: path.join(target.dir, 'work') },
    service: sandboxService(target.root),
  });
  const child = spawn(process.execPath, [CLI, 'restore', '--latest', '--identity', source.identityFile, '--yes', '--config', config], {
    env: ngcpcfg.env(process.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let signalled = false;
  child.stderr.on('data', (d) => {
    stderr += d;
    if (!signalled && /schemas created/.test(stderr)) {
      signalled = true;
      child.kill('SIGTERM');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.true(signalled, stderr);
  t.is(code, ExitCode.terminated, stderr);
  t.regex(stderr, /stopped by SIGTERM/);
  t.regex(stderr, /restored before it stopped: node files \(\d+\), schema of/);
  // The command works as printed: the identity file and the config it was given.
  t.regex(stderr, new RegExp(`to roll back: ngcp-backup restore \\S+-safety-\\S+ --identity ${source.identityFile} --yes --no-safety-snapshot --config ${config}\n`));
  t.deepEqual(await ngcpcfg.calls(), [], 'apply never ran');
});
