import type { ListedSnapshot } from '../../app/list.js';
import { formatSize as formatBytes } from '../../report/progress.js';

/** `ngcp-backup list` as a table, one snapshot a line, oldest first. */
export function formatSnapshotTable(listed: ListedSnapshot[]): string {
  const table = [['ID', 'NODE', 'KIND', 'FINISHED', 'TABLES', 'ROWS', 'STORED', 'PROVEN', 'NOTE']];
  for (const { manifest: m, provenAt: p } of listed) {
    table.push([m.id, m.node, m.kind, m.finishedAt.replace(/\.\d+Z$/, 'Z'), String(m.summary.tables), String(m.summary.rows), formatBytes(m.summary.storedBytes), p ? p.replace(/\.\d+Z$/, 'Z') : 'never', m.note ?? '']);
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  return table.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}
