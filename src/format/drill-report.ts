import { drillKey } from './layout.js';

export const DRILL_FORMAT = 'ngcp-backup/drill/1';

/** Public (no row data): stored next to the snapshot as drills/<time>.json. */
export interface DrillReport {
  format: typeof DRILL_FORMAT;
  snapshot: string;
  node: string;
  startedAt: string;
  durationMs: number;
  ok: boolean;
  tablesChecked: number;
  tableMismatches: string[];
  objectMismatches: string[];
  restoredBytes: number;
}

export function drillReportKey(report: DrillReport): string {
  return drillKey(report.node, report.snapshot, new Date(report.startedAt));
}

export function serializeDrillReport(report: DrillReport): Buffer {
  return Buffer.from(JSON.stringify(report, null, 2) + '\n');
}

/** A drill report, or undefined when the text is not one: a report that cannot be read proves nothing. */
export function parseDrillReport(text: string): DrillReport | undefined {
  try {
    const r = JSON.parse(text) as DrillReport | null;
    return r && typeof r === 'object' && typeof r.ok === 'boolean' ? r : undefined;
  } catch {
    return undefined;
  }
}
