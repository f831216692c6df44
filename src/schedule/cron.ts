import nodeCron from 'node-cron';

/**
 * Cron expressions (5 fields, or 6 with seconds first) parsed by node-cron, and the two
 * questions the daemon and `status` ask of them, answered as pure functions of an instant and
 * a time zone: when is the next run after t, and when was the latest run at or before t.
 * Day of month and day of week follow Vixie cron: when both are restricted, either matches.
 */
export interface CronSchedule {
  expression: string;
  seconds: number[];
  minutes: number[];
  hours: number[];
  daysOfMonth: Set<number>;
  months: Set<number>;
  daysOfWeek: Set<number>;
  domAny: boolean;
  dowAny: boolean;
}

/** Throws an Error whose message says what is wrong (the config loader adds the key). */
export function parseCron(expression: string): CronSchedule {
  const v = nodeCron.validateDetailed(expression);
  if (!v.valid || !v.fields) throw new Error(`is not a valid cron expression (${v.errors.map((e) => e.message).join('; ') || expression})`);
  const f = v.fields;
  const numbers = (name: string, values: (number | string)[]): number[] => {
    if (values.some((x) => typeof x !== 'number')) throw new Error(`uses ${name} values ngcp-backup does not support (${values.filter((x) => typeof x !== 'number').join(', ')})`);
    return [...new Set(values as number[])].sort((a, b) => a - b);
  };
  const dom = numbers('day-of-month', f.dayOfMonth);
  const dow = numbers('day-of-week', f.dayOfWeek).map((d) => d % 7);
  return {
    expression,
    seconds: numbers('second', f.second),
    minutes: numbers('minute', f.minute),
    hours: numbers('hour', f.hour),
    daysOfMonth: new Set(dom),
    months: new Set(numbers('month', f.month)),
    daysOfWeek: new Set(dow),
    domAny: dom.length === 31,
    dowAny: new Set(dow).size === 7,
  };
}

/** Throws a RangeError for a zone Intl does not know. */
export function checkTimeZone(timeZone: string): void {
  new Intl.DateTimeFormat('en-US', { timeZone });
}

export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

const SEARCH_DAYS = 366 * 5;
const DAY_MS = 86_400_000;

/** The first run strictly after `after`, or undefined when the expression never fires (e.g. 30 Feb). */
export function nextRun(s: CronSchedule, after: Date, timeZone: string): Date | undefined {
  return search(s, after, timeZone, 1);
}

/** The latest run at or before `atOrBefore`. */
export function previousRun(s: CronSchedule, atOrBefore: Date, timeZone: string): Date | undefined {
  return search(s, atOrBefore, timeZone, -1);
}

/**
 * Walks the wall clock of the zone day by day (a day is cheap to reject), then the day's
 * times in order. Wall times are handled as UTC milliseconds ("wall ms") and converted to an
 * instant at the end; a wall time skipped by a DST change maps to the instant just after the gap.
 */
function search(s: CronSchedule, from: Date, timeZone: string, dir: 1 | -1): Date | undefined {
  const start = wallMs(from, timeZone);
  const startDay = Math.floor(start / DAY_MS) * DAY_MS;
  const times: number[] = [];
  for (const h of s.hours) for (const m of s.minutes) for (const sec of s.seconds) times.push(((h * 60 + m) * 60 + sec) * 1000);
  if (dir < 0) times.reverse();
  for (let i = 0; i <= SEARCH_DAYS; i++) {
    const day = startDay + dir * i * DAY_MS;
    if (!dayMatches(s, new Date(day))) continue;
    for (const t of times) {
      const wall = day + t;
      if (dir > 0 ? wall <= start : wall > start) continue;
      const instant = instantOf(wall, timeZone);
      if (dir > 0 ? instant > from.getTime() : instant <= from.getTime()) return new Date(instant);
    }
  }
  return undefined;
}

function dayMatches(s: CronSchedule, day: Date): boolean {
  if (!s.months.has(day.getUTCMonth() + 1)) return false;
  const dom = s.daysOfMonth.has(day.getUTCDate());
  const dow = s.daysOfWeek.has(day.getUTCDay());
  if (s.domAny && s.dowAny) return true;
  if (s.domAny) return dow;
  if (s.dowAny) return dom;
  return dom || dow;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's wall clock at an instant, as if that wall clock were UTC. */
function wallMs(at: Date | number, timeZone: string): number {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(at)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const ms = typeof at === 'number' ? at % 1000 : at.getTime() % 1000;
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) + ms;
}

function instantOf(wall: number, timeZone: string): number {
  const first = wall - (wallMs(wall, timeZone) - wall);
  const second = wall - (wallMs(first, timeZone) - first);
  // In a DST gap neither guess maps back to the wall time: take the later instant (after the gap).
  return wallMs(second, timeZone) === wall ? second : Math.max(first, second);
}
