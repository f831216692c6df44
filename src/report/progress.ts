/**
 * Progress of long work (a dump, a download, a CDR shipment) for an operator at a terminal: one
 * line on stderr, redrawn in place at most every 250 ms, with done/total, percent, rate and ETA.
 * Core code only calls update(); the command decides whether anything is drawn (a TTY, and not
 * --quiet or --json), so logs, pipes and the daemon never see it.
 */
export interface Progress {
  /** Work done so far and the total expected (undefined when unknown, e.g. no estimate). */
  update(done: number, total?: number): void;
  /** Removes the line (before the command prints its summary). */
  end(): void;
}

/** A drawn line can be taken away for a moment (a log line goes out) and comes back at the next update. */
export interface ProgressLine extends Progress {
  clear(): void;
}

export const silentProgress: ProgressLine = { update() {}, end() {}, clear() {} };

/** What a progress line needs of a stream; process.stderr has it. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

export interface ProgressBarOptions {
  label: string;
  /** bytes: sizes in KiB/MiB/GiB and a rate per second; count: plain numbers (files). */
  unit?: 'bytes' | 'count';
  /** Milliseconds, for tests. */
  now?: () => number;
  /** Minimum time between redraws. */
  intervalMs?: number;
}

const CLEAR_LINE = '\r\x1b[K';

/** A progress line on out when out is a terminal and the operator wants output; else silent. */
export function terminalProgress(out: ProgressStream, flags: { quiet?: boolean; json?: boolean }, options: ProgressBarOptions): ProgressLine {
  if (!out.isTTY || flags.quiet || flags.json) return silentProgress;
  return progressBar(out, options);
}

/** Draws unconditionally on out (terminalProgress decides whether to); exported for tests. */
export function progressBar(out: ProgressStream, options: ProgressBarOptions): ProgressLine {
  const now = options.now ?? (() => performance.now());
  const interval = options.intervalMs ?? 250;
  const started = now();
  let lastDraw = -Infinity;
  let drawn = false;
  let ended = false;
  return {
    update(done, total) {
      if (ended) return;
      const t = now();
      if (t - lastDraw < interval) return;
      lastDraw = t;
      drawn = true;
      out.write(CLEAR_LINE + fit(formatProgress(options, done, total, (t - started) / 1000), out.columns));
    },
    end() {
      if (ended) return;
      ended = true;
      if (drawn) out.write(CLEAR_LINE);
    },
    clear() {
      if (!drawn || ended) return;
      out.write(CLEAR_LINE);
      drawn = false;
      lastDraw = -Infinity;
    },
  };
}

/** `backup  [#######.............]  35.0 MiB / 100.0 MiB  35%  7.0 MiB/s  ETA 0:09` */
export function formatProgress(options: Pick<ProgressBarOptions, 'label' | 'unit'>, done: number, total: number | undefined, seconds: number): string {
  const bytes = (options.unit ?? 'bytes') === 'bytes';
  const amount = (n: number): string => (bytes ? formatSize(n) : String(Math.round(n)));
  const rate = seconds > 0 ? done / seconds : 0;
  const parts = [options.label];
  // An estimate can be exceeded (the dump is bigger than information_schema said): then the
  // total is unknown again, and saying 100% before the end would be a lie.
  if (total !== undefined && total > 0 && done <= total) {
    const fraction = done / total;
    const width = 20;
    const full = Math.floor(fraction * width);
    parts.push(`[${'#'.repeat(full)}${'.'.repeat(width - full)}]`, `${amount(done)} / ${amount(total)}`, `${Math.floor(fraction * 100)}%`);
  } else {
    parts.push(amount(done));
  }
  parts.push(bytes ? `${formatSize(rate)}/s` : `${rate.toFixed(1)}/s`);
  if (total !== undefined && done <= total && rate > 0) parts.push(`ETA ${formatDuration((total - done) / rate)}`);
  return parts.join('  ');
}

function fit(line: string, columns: number | undefined): string {
  return columns !== undefined && columns > 1 && line.length >= columns ? line.slice(0, columns - 1) : line;
}

export function formatSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** m:ss, or h:mm:ss from an hour on. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
