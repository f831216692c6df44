import { chmodSync, closeSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { jsonReporter, type Reporter } from '../report/reporter.js';

/**
 * The operator's log: JSON lines appended to a file (default /var/log/ngcp/backup.log), in
 * addition to the text on the terminal. Lines are redacted by the JSON reporter. Written
 * synchronously so that the last lines are in the file when a signal ends the process.
 */
export interface LogFile {
  reporter: Reporter;
  close(): void;
}

export function openLogFile(file: string, fields: Record<string, string> = {}): LogFile {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const fd = openSync(file, 'a', 0o640);
  // A file we just created gets 0640 whatever the umask; an existing one keeps the operator's mode.
  if (fstatSync(fd).size === 0) chmodSync(file, 0o640);
  let open = true;
  const sink = { write: (line: string) => (open ? writeSync(fd, line) : 0) } as unknown as NodeJS.WritableStream;
  const json = jsonReporter(sink);
  return {
    reporter: { event: (level, message, extra) => json.event(level, message, { ...fields, ...extra }) },
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}
