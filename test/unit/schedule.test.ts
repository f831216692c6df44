import test from 'ava';
import { nextRun, parseCron, previousRun } from '../../src/schedule/cron.js';
import { missedRuns, nextRuns, scheduledJobs, type ScheduleSettings } from '../../src/schedule/plan.js';
import { lastAttempt } from '../../src/service/records.js';
import { renderMetrics } from '../../src/service/metrics.js';
import { validateConfig } from '../../src/config/load.js';
import { nextRecord, type JobRun } from '../../src/format/job-record.js';

// Pure: a fixed clock and explicit time zones; no timers, no files.
const at = (iso: string) => new Date(iso);
const iso = (d: Date | undefined) => d?.toISOString();

test('next run of the default nightly backup, in the configured zone', (t) => {
  const nightly = parseCron('30 2 * * *');
  t.is(iso(nextRun(nightly, at('2026-11-21T12:00:00Z'), 'UTC')), '2026-11-22T02:30:00.000Z');
  // Vienna is UTC+1 in November: 02:30 local is 01:30 UTC.
  t.is(iso(nextRun(nightly, at('2026-11-21T12:00:00Z'), 'Europe/Vienna')), '2026-11-22T01:30:00.000Z');
  // Strictly after: at the scheduled instant itself, the next one is a day later.
  t.is(iso(nextRun(nightly, at('2026-11-22T01:30:00Z'), 'Europe/Vienna')), '2026-11-23T01:30:00.000Z');
  // Summer: UTC+2.
  t.is(iso(nextRun(nightly, at('2026-07-01T00:00:00Z'), 'Europe/Vienna')), '2026-07-01T00:30:00.000Z');
});

test('every 15 minutes, weekly on Sunday, and a 6-field seconds expression', (t) => {
  t.is(iso(nextRun(parseCron('*/15 * * * *'), at('2026-11-21T12:07:13Z'), 'UTC')), '2026-11-21T12:15:00.000Z');
  t.is(iso(nextRun(parseCron('*/15 * * * *'), at('2026-11-21T23:59:00Z'), 'UTC')), '2026-11-22T00:00:00.000Z');
  // 2026-11-21 is a Saturday: the weekly drill is the next day.
  t.is(iso(nextRun(parseCron('0 4 * * 0'), at('2026-11-21T12:00:00Z'), 'UTC')), '2026-11-22T04:00:00.000Z');
  t.is(iso(nextRun(parseCron('0 4 * * 0'), at('2026-11-22T04:00:00Z'), 'UTC')), '2026-11-29T04:00:00.000Z');
  t.is(iso(nextRun(parseCron('*/5 * * * * *'), at('2026-11-21T12:00:01.500Z'), 'UTC')), '2026-11-21T12:00:05.000Z');
  // Day of month and day of week both given: either matches (Vixie cron).
  t.is(iso(nextRun(parseCron('0 0 1 * 1'), at('2026-11-21T00:00:00Z'), 'UTC')), '2026-11-23T00:00:00.000Z');
  t.throws(() => parseCron('0 0 30 2 *'), { message: /impossible day of month/ }, 'an expression that never fires is refused');
});

test('daylight saving: a time skipped by the change runs after the gap, once', (t) => {
  // Vienna springs forward on 2026-03-29 at 02:00 local (01:00 UTC): 02:30 does not exist.
  const r = nextRun(parseCron('30 2 * * *'), at('2026-03-28T12:00:00Z'), 'Europe/Vienna');
  t.is(iso(r), '2026-03-29T01:30:00.000Z');
  t.is(iso(nextRun(parseCron('30 2 * * *'), r!, 'Europe/Vienna')), '2026-03-30T00:30:00.000Z');
});

test('previous run', (t) => {
  const nightly = parseCron('30 2 * * *');
  t.is(iso(previousRun(nightly, at('2026-11-21T12:00:00Z'), 'UTC')), '2026-11-21T02:30:00.000Z');
  t.is(iso(previousRun(nightly, at('2026-11-21T02:30:00Z'), 'UTC')), '2026-11-21T02:30:00.000Z', 'at or before');
  t.is(iso(previousRun(nightly, at('2026-11-21T02:29:59Z'), 'UTC')), '2026-11-20T02:30:00.000Z');
  t.is(iso(previousRun(parseCron('0 4 * * 0'), at('2026-11-21T12:00:00Z'), 'Europe/Vienna')), '2026-11-15T03:00:00.000Z');
});

test('invalid and unsupported expressions are refused with a reason', (t) => {
  t.throws(() => parseCron('61 * * * *'), { message: /not a valid cron expression/ });
  t.throws(() => parseCron('0 0 L * *'), { message: /day-of-month values .* not support/ });
});

const settings: ScheduleSettings = { backup: '30 2 * * *', cdrShip: '*/15 * * * *', drill: undefined, timeZone: 'UTC', pruneAfterBackup: true };

test('missed-run detection: once per job, only when a scheduled time passed since the last run', (t) => {
  const jobs = scheduledJobs(settings);
  const now = at('2026-11-21T09:00:00Z');
  // The host was down from 01:00 to 09:00: the 02:30 backup and the 08:45 shipping were missed.
  const missed = missedRuns(jobs, { backup: at('2026-11-20T02:30:05Z'), 'cdr-ship': at('2026-11-21T00:45:01Z') }, now, 'UTC');
  t.deepEqual(
    missed.map((m) => [m.job, iso(m.scheduled)]),
    [
      ['backup', '2026-11-21T02:30:00.000Z'],
      ['cdr-ship', '2026-11-21T09:00:00.000Z'],
    ],
  );
  // Up to date: nothing missed.
  t.deepEqual(missedRuns(jobs, { backup: at('2026-11-21T02:30:01Z'), 'cdr-ship': at('2026-11-21T09:00:00Z') }, now, 'UTC'), []);
  // Never ran: a fresh install does not start a backup at once.
  t.deepEqual(missedRuns(jobs, {}, now, 'UTC'), []);
  // In another zone the same record is judged on local time: 02:30 Vienna = 01:30 UTC.
  t.deepEqual(missedRuns(jobs, { backup: at('2026-11-21T02:00:00Z') }, at('2026-11-21T02:10:00Z'), 'Europe/Vienna'), []);
  t.is(missedRuns(jobs, { backup: at('2026-11-21T01:00:00Z') }, at('2026-11-21T02:10:00Z'), 'Europe/Vienna').length, 1);
});

test('next runs of every scheduled job, soonest first; prune and an unset drill are not timed', (t) => {
  const next = nextRuns(scheduledJobs(settings), at('2026-11-21T02:31:00Z'), 'UTC');
  t.deepEqual(next.map((n) => [n.job, iso(n.at)]), [
    ['cdr-ship', '2026-11-21T02:45:00.000Z'],
    ['backup', '2026-11-22T02:30:00.000Z'],
  ]);
});

const run = (result: 'ok' | 'failed', started: string, exitCode = result === 'ok' ? 0 : 5): JobRun => ({
  job: 'backup', result, started, finished: started, durationMs: 1500, bytes: result === 'ok' ? 1234 : null, snapshot: null, error: result === 'ok' ? null : 'boom', exitCode, lockMs: result === 'ok' ? 40 : null,
});

test('run records: counters, last success, and an interrupted run does not count as a run for catch-up', (t) => {
  let r = nextRecord(undefined, run('failed', '2026-11-20T02:30:00.000Z'));
  r = nextRecord(r, run('failed', '2026-11-21T02:30:00.000Z'));
  t.is(r.consecutiveFailures, 2);
  t.is(r.lastSuccess, null);
  r = nextRecord(r, run('ok', '2026-11-21T03:00:00.000Z'));
  t.like(r, { consecutiveFailures: 0, failuresTotal: 2, runsTotal: 3 });
  t.is(r.lastSuccess?.started, '2026-11-21T03:00:00.000Z');
  t.is(iso(lastAttempt(r)), '2026-11-21T03:00:00.000Z');
  const stopped = nextRecord(r, run('failed', '2026-11-22T02:30:00.000Z', 143));
  t.is(iso(lastAttempt(stopped)), '2026-11-21T03:00:00.000Z', 'SIGTERM: catch up at the next start');

  const text = renderMetrics({ backup: stopped }, 'spce');
  t.regex(text, /^# HELP ngcp_backup_last_success_timestamp_seconds .+\n# TYPE ngcp_backup_last_success_timestamp_seconds gauge\n/);
  t.regex(text, /\nngcp_backup_consecutive_failures\{job="backup",node="spce"\} 1\n/);
  t.regex(text, /\nngcp_backup_failures_total\{job="backup",node="spce"\} 3\n/);
  t.regex(text, /\nngcp_backup_write_lock_seconds\{node="spce"\} 0\.04\n/);
  // Every line is a comment or `name{labels} number`.
  for (const line of text.trimEnd().split('\n')) t.regex(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[\d.e+-]+)$/);
});

test('config: schedule keys, defaults and errors that name the key', (t) => {
  const base = { repository: { url: 'file:///tmp/x' }, encryption: { recipients: ['age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq'] } };
  const c = validateConfig({ ...base, schedule: { time_zone: 'Europe/Vienna' } }, 'c.yml');
  t.like(c.schedule, { backup: '30 2 * * *', cdrShip: undefined, drill: undefined, timeZone: 'Europe/Vienna', pruneAfterBackup: true });
  t.like(c.service, { stateDir: '/var/lib/ngcp-backup', lockDir: '/run/ngcp-backup', logFile: '/var/log/ngcp/backup.log', metricsFile: undefined });
  const d = validateConfig({ ...base, cdr: { enabled: true }, drill: { identity_file: '/etc/id.txt' }, schedule: { backup: false }, service: { log_file: false } }, 'c.yml');
  t.like(d.schedule, { backup: undefined, cdrShip: '*/15 * * * *', drill: '0 4 * * 0' });
  t.is(d.service.logFile, undefined);
  t.throws(() => validateConfig({ ...base, schedule: { backup: '99 * * * *' } }, 'c.yml'), { message: /c\.yml: schedule\.backup is not a valid cron expression/ });
  t.throws(() => validateConfig({ ...base, schedule: { time_zone: 'Mars/Olympus' } }, 'c.yml'), { message: /schedule\.time_zone is not a time zone/ });
  t.throws(() => validateConfig({ ...base, service: { lock: '/x' } }, 'c.yml'), { message: /service\.lock is not a known key/ });
  t.throws(() => validateConfig({ ...base, alerts: { webhook: { url: 'ftp://x' } } }, 'c.yml'), { message: /alerts\.webhook\.url must be an http/ });
  t.throws(() => validateConfig({ ...base, alerts: { mail: { to: 'root' } } }, 'c.yml'), { message: /alerts\.mail\.to must be plain addresses/ });
});
