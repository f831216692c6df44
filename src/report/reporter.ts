import { redact } from './secrets.js';

export type Level = 'info' | 'warn' | 'error';
export type Fields = Record<string, string | number | boolean | null | undefined>;

/**
 * What the core tells the operator. Core code never prints: it calls a Reporter, and the
 * command chooses text (a terminal) or JSON lines (a log file, --json).
 */
export interface Reporter {
  event(level: Level, message: string, fields?: Fields): void;
}

export const silentReporter: Reporter = { event() {} };

export function info(r: Reporter, message: string, fields?: Fields): void {
  r.event('info', message, fields);
}
export function warn(r: Reporter, message: string, fields?: Fields): void {
  r.event('warn', message, fields);
}

/** Human-readable lines on a stream (stderr by default). */
export function textReporter(out: NodeJS.WritableStream = process.stderr, options: { quiet?: boolean } = {}): Reporter {
  return {
    event(level, message, fields) {
      if (options.quiet && level === 'info') return;
      const extra = fields
        ? Object.entries(fields)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')
        : '';
      const prefix = level === 'info' ? '' : `${level}: `;
      out.write(redact(`${prefix}${message}${extra ? ` (${extra})` : ''}`) + '\n');
    },
  };
}

/** One JSON object per line, for log files and machines. */
export function jsonReporter(out: NodeJS.WritableStream, now: () => Date = () => new Date()): Reporter {
  return {
    event(level, message, fields) {
      out.write(redact(JSON.stringify({ time: now().toISOString(), level, message, ...fields })) + '\n');
    },
  };
}

export function teeReporter(...reporters: Reporter[]): Reporter {
  return { event: (level, message, fields) => reporters.forEach((r) => r.event(level, message, fields)) };
}
