/** The benchmark's figures (bench/run.ts) as a markdown report and a JSON document. */
import type { Measured } from './measure.js';

export interface Run extends Omit<Measured, 'stdout'> {
  /** Bytes the job produced (stored object(s), dump files) or read (verify). */
  bytes: number;
  /** ngcp-backup backup's own peak RSS (getrusage of the CLI process, `backup --json`). */
  ownPeakRssMiB?: number;
  /** Anything else worth keeping from the run (snapshot id, row counts checked, ...). */
  detail?: Record<string, unknown>;
}

export interface Job {
  id: string;
  label: string;
  note?: string;
  runs: Run[];
}

export interface Target {
  name: string;
  value: number | null;
  op: '<=' | '>=';
  limit: number;
  holds: boolean | null;
}

export interface Results {
  date: string;
  rows: number;
  runs: number;
  restoreRuns: number;
  growthRows: number | null;
  machine: { cpu: string; cores: number; ramGiB: number; kernel: string; loadavg: number[] };
  versions: Record<string, string>;
  serverOptions: string[];
  innodbBufferPoolMiB: number;
  databases: string[];
  method: string[];
  jobs: Job[];
  backup_ratio: number;
  restore_ratio: number;
  peak_rss_mib: number;
  rss_growth: number | null;
  verify_mb_s: number;
  verify_wall_mb_s: number;
  targetsApply: boolean;
  targets: Target[];
}

export const TARGET_MIN_ROWS = 2_000_000;

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function targets(r: Pick<Results, 'rows' | 'backup_ratio' | 'restore_ratio' | 'peak_rss_mib' | 'rss_growth' | 'verify_mb_s'>): Target[] {
  const t = (name: string, value: number | null, op: '<=' | '>=', limit: number): Target => ({
    name,
    value,
    op,
    limit,
    holds: value === null || !Number.isFinite(value) ? null : op === '<=' ? value <= limit : value >= limit,
  });
  return [
    t('backup_ratio', r.backup_ratio, '<=', 0.6),
    t('restore_ratio', r.restore_ratio, '<=', 0.5),
    t('peak_rss_mib', r.peak_rss_mib, '<=', 200),
    t('rss_growth', r.rss_growth, '<=', 1.2),
    t('verify_mb_s', r.verify_mb_s, '>=', 200),
  ];
}

const f = (v: number, digits = 1): string => (Number.isFinite(v) ? v.toFixed(digits) : '-');

function bytes(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '-';
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(0)} KiB`;
}

/** GitHub markdown splits cells at every |, in code spans too, unless escaped. */
const cell = (text: string): string => text.replace(/\|/g, '\\|');

export function jobTable(jobs: Job[]): string {
  const lines = [
    '| job | runs | median wall s | min / max wall s | CPU s (tree, median) | server CPU s (median) | peak RSS MiB (tree) | own peak RSS MiB | bytes (median) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const j of jobs) {
    const walls = j.runs.map((r) => r.wallS);
    const own = j.runs.map((r) => r.ownPeakRssMiB).filter((v): v is number => v !== undefined);
    lines.push(
      `| ${cell(j.label)}${j.note ? ` (${j.note})` : ''} | ${j.runs.length} | ${f(median(walls), 2)} | ${f(Math.min(...walls), 2)} / ${f(Math.max(...walls), 2)} | ${f(
        median(j.runs.map((r) => r.cpuS)),
        2,
      )} | ${f(median(j.runs.map((r) => r.serverCpuS)), 2)} | ${f(Math.max(...j.runs.map((r) => r.treePeakRssMiB)), 0)} | ${own.length ? f(Math.max(...own), 0) : '-'} | ${bytes(
        median(j.runs.map((r) => r.bytes)),
      )} |`,
    );
  }
  return lines.join('\n');
}

export function targetLines(r: Results): string[] {
  const lines = r.targets.map((t) => {
    const v = t.value === null ? 'not measured' : f(t.value, t.name.endsWith('ratio') || t.name === 'rss_growth' ? 2 : 0);
    const verdict = t.holds === null ? 'n/a' : !r.targetsApply ? (t.holds ? 'would hold' : 'would not hold') : t.holds ? 'HOLDS' : 'MISSED';
    return `- ${t.name} = ${v} (target ${t.op} ${t.limit}): ${verdict}`;
  });
  if (!r.targetsApply) lines.push(`- the targets apply at >= ${TARGET_MIN_ROWS.toLocaleString('en')} cdr rows; this run has ${r.rows.toLocaleString('en')}`);
  return lines;
}

export function markdown(r: Results): string {
  return [
    `# ngcp-backup benchmark, ${r.rows.toLocaleString('en')} cdr rows, ${r.date}`,
    '',
    `Runs: ${r.runs} per backup job, ${r.restoreRuns} per restore job${r.growthRows ? `, 1 backup at ${r.growthRows.toLocaleString('en')} rows` : ''}. Produced by \`npm run bench -- --rows ${r.rows}\` (bench/run.ts).`,
    '',
    jobTable(r.jobs),
    '',
    '## Ratios and targets',
    '',
    `- backup_ratio = ngcp-backup backup median wall / baseline backup median wall = ${f(r.backup_ratio, 2)}`,
    `- restore_ratio = ngcp-backup restore median wall / baseline restore median wall = ${f(r.restore_ratio, 2)}`,
    `- peak_rss_mib = max own peak RSS of ngcp-backup backup at ${r.rows.toLocaleString('en')} rows = ${f(r.peak_rss_mib, 0)}`,
    `- rss_growth = own peak RSS at ${r.growthRows ? r.growthRows.toLocaleString('en') : '4N'} rows / at ${r.rows.toLocaleString('en')} rows = ${r.rss_growth === null ? 'not measured (--no-growth)' : f(r.rss_growth, 2)}`,
    `- verify_mb_s = median of what \`ngcp-backup verify --json\` reports (stored bytes / its time from first read to last hash) = ${f(r.verify_mb_s, 0)}; over the whole process's wall time, start-up included: ${f(r.verify_wall_mb_s, 0)}`,
    '',
    ...targetLines(r),
    '',
    '## Machine',
    '',
    `- CPU: ${r.machine.cpu}, ${r.machine.cores} cores; RAM ${r.machine.ramGiB} GiB; ${r.machine.kernel}; load average at the start ${r.machine.loadavg.join(' / ')}`,
    ...Object.entries(r.versions).map(([k, v]) => `- ${k}: ${v}`),
    `- MariaDB server options (every instance, source and restore targets alike): \`${r.serverOptions.join(' ')}\``,
    `- innodb_buffer_pool_size during the jobs: ${r.innodbBufferPoolMiB} MiB`,
    `- databases (all non-system databases less ngcp-backup's default mysql.exclude): ${r.databases.join(', ')}`,
    '',
    '## Method',
    '',
    ...r.method.map((m) => `- ${m}`),
    '',
  ].join('\n');
}
