/**
 * The CDR export tree of the sandbox node (/home/jail/home/cdrexport), in NGCP's file format:
 * `<prefix>_<version>_<YYYYMMDDHHMMSS>_<seq %010d>.cdr`, first line `<version>,<rows %04d>`,
 * CSV rows (quote ', separator ',', escape \), last line the MD5 hex of everything before it.
 * The plan is a pure function of the row count so the database part (accounting.mark) and the
 * file part agree without talking to each other.
 */
import { createHash } from 'node:crypto';
import { CDR_EPOCH, CDR_SPAN_SECONDS } from './schema.js';
import { RESELLERS } from './data.js';

export const CDR_EXPORT_DIR = '/home/jail/home/cdrexport';
export const CDR_FILE_VERSION = '007';
export const CDR_FILE_PREFIX = 'sipwise';

export type CdrFileKind = 'ok' | 'empty' | 'damaged' | 'in-progress';

export interface PlannedCdrFile {
  /** Path relative to the cdrexport directory, e.g. system/202406/30/sipwise_007_..._0000001234.cdr */
  relPath: string;
  kind: CdrFileKind;
  /** Rows announced in the header (what the exporter meant to write). */
  rows: number;
  seq: number;
  /** accounting.mark collector of the stream this file belongs to. */
  collector: string;
  exportedAt: Date;
  /** First CDR id in the file. */
  firstCdrId: number;
}

export interface CdrExportPlan {
  files: PlannedCdrFile[];
  /** (collector, last completed sequence) for accounting.mark. */
  marks: Array<[string, number]>;
}

function stamp(d: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

function mix(n: number): number {
  // A small integer hash: deterministic row counts without a seed parameter.
  let x = (n ^ 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Files for the last `days` days of the CDR span: several system exports a day (every 5th one
 * empty), one per reseller a day, one damaged file per stream in the middle, and the newest system
 * export still being written (`<name>.<pid>`).
 */
export function planCdrExport(cdrRows: number): CdrExportPlan {
  const days = Math.max(3, Math.min(30, Math.round(cdrRows / 20000)));
  const perDay = Math.max(2, Math.min(6, Math.round(cdrRows / 100000)));
  const end = CDR_EPOCH + CDR_SPAN_SECONDS; // 2024-07-01T00:00:00Z
  const files: PlannedCdrFile[] = [];
  const marks: Array<[string, number]> = [];
  let cdrId = 1 + Math.floor(cdrRows / 10); // live CDRs follow the archive month's ids
  const streams = [
    { dir: 'system', collector: 'exporter-lastseq', firstSeq: 1000 + Math.floor(cdrRows / 500), perDay },
    ...RESELLERS.filter((r) => r.id !== 1).map((r) => ({
      dir: `resellers/${r.name}`,
      collector: `exporter-lastseq-${r.id}`,
      firstSeq: 1 + r.id * 10,
      perDay: 1,
    })),
  ];
  for (const [si, stream] of streams.entries()) {
    let seq = stream.firstSeq;
    const total = days * stream.perDay;
    const damagedAt = Math.floor(total / 2);
    let lastDone = seq - 1;
    for (let i = 0; i < total; i++, seq++) {
      const day = Math.floor(i / stream.perDay);
      const slot = i % stream.perDay;
      const t = end - (days - day) * 86400 + Math.floor(((slot + 0.5) * 86400) / stream.perDay) + 1 + si * 7;
      const exportedAt = new Date(t * 1000);
      const isLast = si === 0 && i === total - 1;
      let kind: CdrFileKind = 'ok';
      if (isLast) kind = 'in-progress';
      else if (i === damagedAt) kind = 'damaged';
      else if (i % 5 === 4) kind = 'empty';
      const rows = kind === 'empty' ? 0 : 1 + (mix(seq * 31 + si) % 40);
      const y = exportedAt.getUTCFullYear();
      const m = String(exportedAt.getUTCMonth() + 1).padStart(2, '0');
      const d = String(exportedAt.getUTCDate()).padStart(2, '0');
      let name = `${CDR_FILE_PREFIX}_${CDR_FILE_VERSION}_${stamp(exportedAt)}_${String(seq).padStart(10, '0')}.cdr`;
      if (kind === 'in-progress') name += `.${4000 + (mix(seq) % 60000)}`;
      files.push({
        relPath: `${stream.dir}/${y}${m}/${d}/${name}`,
        kind,
        rows,
        seq,
        collector: stream.collector,
        exportedAt,
        firstCdrId: cdrId,
      });
      cdrId += rows;
      if (kind !== 'in-progress') lastDone = seq;
    }
    marks.push([stream.collector, lastDone]);
  }
  return { files, marks };
}

function quote(value: string | number | null): string {
  if (value === null) return "''";
  return `'${String(value).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function cdrLine(id: number): string {
  const h = mix(id);
  const start = CDR_EPOCH + (h % CDR_SPAN_SECONDS) + (h % 1000) / 1000;
  const su = h % 997;
  const fields: Array<string | number | null> = [
    id,
    new Date(Math.floor(start + 600) * 1000).toISOString().slice(0, 19).replace('T', ' '),
    `${(h >>> 0).toString(16).padStart(8, '0')}-${(id % 65536).toString(16).padStart(4, '0')}-4000-8000-${String(su).padStart(12, '0')}`,
    String(1 + (su % 3)),
    `4312${String(su).padStart(6, '0')}`,
    ['voip.example.org', 'sip.example.net', 'pbx.example.com'][su % 3]!,
    h % 11 === 0 ? "O'Brien, \\\"the\\\" caller" : `+4312${String(su).padStart(6, '0')}`,
    `49151${String(h % 10000000).padStart(7, '0')}`,
    'peer0.carrier.example',
    ['call', 'call', 'call', 'cfu', 'sms'][h % 5]!,
    ['ok', 'ok', 'busy', 'noanswer'][h % 4]!,
    ['200', '200', '486', '480'][h % 4]!,
    start.toFixed(3),
    (start + 3).toFixed(3),
    ((h % 1800000) / 1000).toFixed(3),
    `${h.toString(16)}-${id}@10.15.0.1`,
    ((h % 5000000) / 1000000).toFixed(6),
    h % 7 === 0 ? 'Zürich' : null,
  ];
  return fields.map(quote).join(',');
}

/** The bytes of one planned file. */
export function renderCdrFile(file: PlannedCdrFile): Buffer {
  const lines = [`${CDR_FILE_VERSION},${String(file.rows).padStart(4, '0')}`];
  for (let i = 0; i < file.rows; i++) lines.push(cdrLine(file.firstCdrId + i));
  const body = lines.map((l) => `${l}\n`).join('');
  if (file.kind === 'in-progress') {
    // Cut in the middle of a row, as a file caught while the exporter writes it.
    const buf = Buffer.from(body, 'utf8');
    return buf.subarray(0, Math.max(1, Math.floor(buf.length * 0.6)));
  }
  const md5 = createHash('md5').update(body, 'utf8').digest('hex');
  if (file.kind === 'damaged') {
    // Flip one digit of the first row after the trailer was computed (bit rot / truncated copy).
    const damaged = body.replace(/\n'(\d)/, (_m, d: string) => `\n'${(Number(d) + 1) % 10}`);
    return Buffer.from(`${damaged === body ? `${body}x\n` : damaged}${md5}\n`, 'utf8');
  }
  return Buffer.from(`${body}${md5}\n`, 'utf8');
}

/** The product's own check of a file's MD5 trailer (the shipper uses the same). */
export { cdrFileMd5Ok } from '../src/cdr/trailer.js';
