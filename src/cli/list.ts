import { newestPassedDrill } from '../format/drill-report.js';
import { snapshotPrefix } from '../format/layout.js';
import { listSnapshots, readManifest, type Manifest } from '../format/manifest.js';
import type { Storage } from '../repository/storage.js';
import { parseFlags } from './args.js';
import { COMMON_OPTIONS, formatBytes, openContext, type CliEnv } from './context.js';

export const usage = `Usage: ngcp-backup list [--json] [--config FILE]
Lists the complete snapshots (those with a manifest) in the repository, oldest first.`;

export async function run(env: CliEnv): Promise<number> {
  const { values } = parseFlags('list', env.args, { ...COMMON_OPTIONS });
  if (values.help) {
    env.stdout.write(usage + '\n');
    return 0;
  }
  const { storage } = await openContext(env, values);
  await storage.check();
  const manifests = [];
  for (const ref of await listSnapshots(storage)) manifests.push(await readManifest(storage, ref.node, ref.id));
  const proven = await lastProven(storage, manifests);
  if (values.json) {
    const rows = manifests.map((m) => ({
      id: m.id,
      node: m.node,
      kind: m.kind,
      note: m.note,
      startedAt: m.startedAt,
      finishedAt: m.finishedAt,
      ngcpVersion: m.ngcpVersion,
      objects: m.objects.length,
      provenAt: proven.get(m.id) ?? null,
      ...m.summary,
    }));
    env.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    return 0;
  }
  if (manifests.length === 0) {
    env.stdout.write(`no snapshots in ${storage.location}\n`);
    return 0;
  }
  const table = [['ID', 'NODE', 'KIND', 'FINISHED', 'TABLES', 'ROWS', 'STORED', 'PROVEN', 'NOTE']];
  for (const m of manifests) {
    const p = proven.get(m.id);
    table.push([m.id, m.node, m.kind, m.finishedAt.replace(/\.\d+Z$/, 'Z'), String(m.summary.tables), String(m.summary.rows), formatBytes(m.summary.storedBytes), p ? p.replace(/\.\d+Z$/, 'Z') : 'never', m.note ?? '']);
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  env.stdout.write(table.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n');
  return 0;
}

/** When each snapshot was last proven restorable: the newest passed drill report next to it. */
async function lastProven(storage: Storage, manifests: Manifest[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const m of manifests) {
    const reports: string[] = [];
    for await (const o of storage.list(`${snapshotPrefix(m.node, m.id)}drills/`)) reports.push(o.key);
    const passed = await newestPassedDrill(storage, reports);
    if (passed) out.set(m.id, passed.startedAt);
  }
  return out;
}
