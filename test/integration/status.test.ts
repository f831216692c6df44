import test from 'ava';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ExitCode } from '../../src/errors.js';
import { sandboxService } from '../../testkit/node.js';
import type { ServiceStatus } from '../../src/app/status.js';
import { startTestNode, type TestNode } from '../helpers/node.js';

// A failed backup, then a good one: the run records, `status`, the metrics file, the alerts
// (a local webhook and a sendmail stand-in) and the JSON log all tell the same story, and
// no secret reaches any of them.
let node: TestNode;
test.before(async () => {
  node = await startTestNode({ cdrRows: 2000 });
});
test.after.always(async () => node?.stop());

const WEBHOOK_SECRET = 'Bearer hook-secret-7f3a9c1d2e';

test('a failing then a successful backup: status, metrics, webhook, mail and log', async (t) => {
  const hooks: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body });
      // The receiver is down: the alert fails, the job's exit code must not change.
      res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;

  const secretFile = path.join(node.dir, 'webhook-secret');
  await writeFile(secretFile, WEBHOOK_SECRET + '\n', { mode: 0o600 });
  const mailDir = path.join(node.dir, 'mail');
  const sendmail = path.join(node.dir, 'sendmail');
  await writeFile(sendmail, `#!/bin/sh\nmkdir -p '${mailDir}'\necho "$@" > '${mailDir}/args'\ncat > '${mailDir}/message'\n`);
  await chmod(sendmail, 0o755);
  const service = sandboxService(node.root);
  const metricsFile = path.join(node.dir, 'metrics', 'ngcp_backup.prom');
  const base = {
    ...node.baseConfig(),
    service: { ...service, metrics_file: metricsFile },
    alerts: {
      webhook: { url: `http://127.0.0.1:${port}/hook`, secret_file: secretFile },
      mail: { to: ['ops@example.net'], from: 'backup@spce.example.net', sendmail },
    },
  };
  const status = async (config: string) => {
    const r = await node.cli(['status', '--json'], { config });
    t.is(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as ServiceStatus;
  };

  // 1. MariaDB unreachable: exit 5.
  const broken = await node.writeConfig({ ...base, mysql: { socket: '/nonexistent/mysqld.sock', defaults_file: '/etc/mysql/debian.cnf' } }, 'broken.yml');
  const failed = await node.cli(['backup'], { config: broken });
  t.is(failed.code, ExitCode.database, failed.stderr);
  t.regex(failed.stderr, new RegExp(`alert webhook http://127\\.0\\.0\\.1:${port} failed: answered HTTP 500`));
  t.regex(failed.stderr, /cannot reach MariaDB/);

  let s = await status(broken);
  t.like(s.jobs.backup, { consecutiveFailures: 1, failuresTotal: 1, lastSuccess: null, schedule: '30 2 * * *' });
  t.like(s.jobs.backup.last, { result: 'failed', exitCode: ExitCode.database, snapshot: null });
  t.regex(s.jobs.backup.last!.error!, /cannot reach MariaDB at socket \/nonexistent/);
  t.truthy(s.jobs.backup.next);
  t.is(s.jobs.prune.schedule, 'after each successful backup');
  let metrics = await readFile(metricsFile, 'utf8');
  t.regex(metrics, /\nngcp_backup_failures_total\{job="backup",node="spce"\} 1\n/);
  t.regex(metrics, /\nngcp_backup_last_success\{job="backup",node="spce"\} 0\n/);
  t.notRegex(metrics, /ngcp_backup_last_success_timestamp_seconds/);

  t.is(hooks.length, 1);
  const alert = JSON.parse(hooks[0]!.body) as Record<string, unknown>;
  t.like(alert, { source: 'ngcp-backup', job: 'backup', node: 'spce', exitCode: ExitCode.database });
  t.regex(alert.error as string, /cannot reach MariaDB/);
  t.truthy(Date.parse(alert.time as string));
  t.is(hooks[0]!.headers.authorization, WEBHOOK_SECRET, 'the secret goes in the header');
  t.false(hooks[0]!.body.includes('hook-secret'), 'and nowhere else');

  const mail = await readFile(path.join(mailDir, 'message'), 'utf8');
  t.is((await readFile(path.join(mailDir, 'args'), 'utf8')).trim(), '-t -oi', 'no address on the command line');
  t.regex(mail, /^From: backup@spce\.example\.net\nTo: ops@example\.net\nSubject: \[ngcp-backup\] backup failed on spce \(exit 5\)\n/);
  t.regex(mail, /cannot reach MariaDB/);

  // 2. A good backup.
  const good = await node.writeConfig(base, 'good.yml');
  const ok = await node.cli(['backup', '--json'], { config: good });
  t.is(ok.code, 0, ok.stderr);
  const { id, summary } = JSON.parse(ok.stdout) as { id: string; summary: { storedBytes: number; lockMs: number } };
  s = await status(good);
  t.like(s.jobs.backup, { consecutiveFailures: 0, failuresTotal: 1 });
  t.like(s.jobs.backup.last, { result: 'ok', exitCode: 0, snapshot: id, bytes: summary.storedBytes, lockMs: summary.lockMs, error: null });
  t.deepEqual(s.jobs.backup.lastSuccess, s.jobs.backup.last);
  t.is(s.jobs.drill.schedule, null, 'no drill identity: no drill');
  t.like(s.repository, { snapshots: 1, cdrFiles: 0 });
  t.true((s.repository as { snapshotBytes: number }).snapshotBytes >= summary.storedBytes);
  t.is(hooks.length, 1, 'no alert for a success');

  metrics = await readFile(metricsFile, 'utf8');
  const lastSuccess = Math.round(Date.parse(s.jobs.backup.lastSuccess!.finished) / 1000);
  t.regex(metrics, new RegExp(`\\nngcp_backup_last_success_timestamp_seconds\\{job="backup",node="spce"\\} ${lastSuccess}\\n`));
  t.regex(metrics, /\nngcp_backup_failures_total\{job="backup",node="spce"\} 1\n/);
  t.regex(metrics, /\nngcp_backup_consecutive_failures\{job="backup",node="spce"\} 0\n/);
  t.regex(metrics, new RegExp(`\\nngcp_backup_last_bytes\\{job="backup",node="spce"\\} ${summary.storedBytes}\\n`));
  t.regex(metrics, /# TYPE ngcp_backup_write_lock_seconds gauge\nngcp_backup_write_lock_seconds\{node="spce"\} [\d.]+\n/);
  for (const line of metrics.trimEnd().split('\n')) t.regex(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[\d.e+-]+)$/);

  const human = await node.cli(['status'], { config: good });
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, new RegExp(`backup {2,}last OK .*${id}`));
  t.regex(human.stdout, /repository file:\/\/.*: 1 snapshot\(s\)/);

  // The run records are private; the log file is not world-readable.
  t.is((await stat(path.join(service.state_dir, 'job-backup.json'))).mode & 0o777, 0o600);
  t.is((await stat(service.log_file)).mode & 0o777, 0o640);
  const log = await readFile(service.log_file, 'utf8');
  const lines = log.trimEnd().split('\n').map((l) => JSON.parse(l) as { level: string; message: string; command?: string });
  t.true(lines.some((l) => l.level === 'error' && /backup failed: cannot reach MariaDB/.test(l.message)));
  t.true(lines.some((l) => l.message === 'backup finished'));
  t.true(lines.some((l) => /^snapshot .* of node spce/.test(l.message)), 'the core reporter events are in the log too');
  for (const secret of ['hook-secret', node.sandbox.debianCnfPassword]) {
    for (const [what, text] of [['log', log], ['metrics', metrics], ['mail', mail], ['stderr', failed.stderr + ok.stderr]] as const) {
      t.false(text.includes(secret), `${what} holds a secret`);
    }
  }
});
