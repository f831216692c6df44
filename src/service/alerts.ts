import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../config/schema.js';
import { warn, type Reporter } from '../report/reporter.js';
import { redact, registerSecret } from '../report/secrets.js';

/** What an operator is told when a job fails. Never carries a secret (messages are redacted). */
export interface Alert {
  job: string;
  node: string;
  host: string;
  error: string;
  exitCode: number;
  time: string;
}

const TIMEOUT_MS = 10_000;

/**
 * Sends the alert to every configured channel. A channel that fails is a warning: an alert
 * never changes the outcome (or exit code) of the job it reports.
 */
export async function sendAlerts(settings: Config['alerts'], alert: Alert, reporter: Reporter): Promise<void> {
  const safe: Alert = { ...alert, error: redact(alert.error) };
  await Promise.all([
    settings.webhook && postWebhook(settings.webhook, safe).catch((e: unknown) => warn(reporter, `alert webhook ${originOf(settings.webhook!.url)} failed: ${redact((e as Error).message)}`)),
    settings.mail && sendMail(settings.mail, safe).catch((e: unknown) => warn(reporter, `alert mail via ${settings.mail!.sendmail} failed: ${redact((e as Error).message)}`)),
  ]);
}

async function postWebhook(w: NonNullable<Config['alerts']['webhook']>, alert: Alert): Promise<void> {
  // The URL may carry a token (many chat hooks do): messages name its origin only.
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (w.secretFile) {
    const secret = (await readFile(w.secretFile, 'utf8')).trim();
    registerSecret(secret);
    headers[w.header] = secret;
  }
  let res: Response;
  try {
    res = await fetch(w.url, { method: 'POST', headers, body: JSON.stringify({ source: 'ngcp-backup', ...alert }), signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    throw new Error(`no answer (${cause ?? (error as Error).name})`);
  }
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new Error(`answered HTTP ${res.status}`);
}

async function sendMail(m: NonNullable<Config['alerts']['mail']>, alert: Alert): Promise<void> {
  const subject = `[ngcp-backup] ${alert.job} failed on ${alert.node} (exit ${alert.exitCode})`;
  const message = [
    `From: ${m.from}`,
    `To: ${m.to.join(', ')}`,
    `Subject: ${subject.replace(/[\r\n]/g, ' ')}`,
    'Content-Type: text/plain; charset=utf-8',
    'Auto-Submitted: auto-generated',
    '',
    `ngcp-backup ${alert.job} failed on node ${alert.node} (host ${alert.host}) at ${alert.time}.`,
    '',
    `exit code: ${alert.exitCode} (docs/exit-codes.md)`,
    `error:     ${alert.error}`,
    '',
    `See ngcp-backup status, and the log (/var/log/ngcp/backup.log by default).`,
    '',
  ].join('\n');
  // -t: recipients from the headers, so no address is on the command line; -oi: a lone "." is text.
  const child = spawn(m.sendmail, ['-t', '-oi'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-500)));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? -1));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
  try {
    await Promise.all([pipeline(Readable.from([message]), child.stdin), exited]);
  } finally {
    clearTimeout(timer);
  }
  const code = await exited;
  if (code !== 0) throw new Error(`exited ${code}${stderr.trim() ? `: ${stderr.trim().split('\n').at(-1)}` : ''}`);
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

export function hostName(): string {
  return os.hostname();
}
