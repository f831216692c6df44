import { IntegrityError } from '../errors.js';
import type { SnapshotDetails } from '../format/details.js';
import type { Manifest, ManifestObject } from '../format/manifest.js';

/** What part of the snapshot a restore (or a drill) loads. */
export interface CoverageSelection {
  databases: string[];
  table?: { database: string; table: string };
  grants: boolean;
}

/**
 * Whether the manifest's objects are the snapshot its details describe, for what is restored:
 * the details are this snapshot's; every table the details list with data has its data objects
 * (each chunk the dump wrote); every data object is a chunk of the table its manifest entry
 * names; every database has its schema and objects objects. Pure, and cheap: it runs right
 * after the small details object is decrypted, before any big download, so that a removed or
 * moved entry is refused before anything is touched. Throws an IntegrityError naming the table.
 * What an object holds is checked when it is decrypted (restore/contents.ts).
 */
export function checkCoverage(manifest: Manifest, details: SnapshotDetails, selection: CoverageSelection): void {
  const refuse = (what: string): never => {
    throw new IntegrityError(`snapshot ${manifest.id}: ${what}; refused before anything was changed (run ngcp-backup verify, or restore another snapshot)`);
  };
  if (details.id !== manifest.id || details.node !== manifest.node) {
    refuse(`its details object belongs to snapshot ${details.id} of node ${details.node}`);
  }
  const byName = new Map(manifest.objects.map((o) => [o.name, o]));
  const tableName = (o: Pick<ManifestObject, 'database' | 'table'>): string => `${o.database}.${o.table}`;
  const wantedTable = (database: string, table: string): boolean =>
    !selection.table || (selection.table.database === database && selection.table.table === table);

  for (const database of selection.databases) {
    const d = details.databases.find((x) => x.name === database);
    if (!d) refuse(`its details do not list database ${database}, which its manifest names`);
    for (const role of ['schema', 'objects'] as const) {
      if (!manifest.objects.some((o) => o.role === role && o.database === database)) refuse(`the manifest has no ${role} object for database ${database}`);
    }
    const withData = new Map(d!.tables.filter((t) => t.hasData && wantedTable(database, t.name)).map((t) => [t.name, t]));
    for (const t of withData.values()) {
      const rows = t.rows === undefined ? '' : ` (the details list ${t.rows} rows for it)`;
      const chunks = t.chunks ?? [];
      if (chunks.length === 0) {
        if (!manifest.objects.some((o) => o.role === 'data' && o.database === database && o.table === t.name)) {
          refuse(`the manifest has no data object for table ${database}.${t.name}${rows}`);
        }
        continue;
      }
      for (const c of chunks) {
        const o = byName.get(c.name);
        if (!o) refuse(`the manifest has no data object ${c.name} for table ${database}.${t.name}${rows}`);
        if (o!.role !== 'data' || o!.database !== database || o!.table !== t.name) {
          refuse(`the manifest entry of object ${c.name} names ${o!.role === 'data' ? `table ${tableName(o!)}` : `a ${o!.role} object`}, but the details list it as rows of table ${database}.${t.name}`);
        }
      }
    }
    for (const o of manifest.objects.filter((x) => x.role === 'data' && x.database === database && wantedTable(database, x.table ?? ''))) {
      const t = withData.get(o.table ?? '');
      if (!t) refuse(`object ${o.name} is named as rows of table ${tableName(o)}, which the details do not list with data`);
      if (t!.chunks?.length && !t!.chunks.some((c) => c.name === o.name)) {
        refuse(`object ${o.name} is named as rows of table ${tableName(o)}, but is none of the chunks the details list for it`);
      }
    }
  }
  if (selection.grants && !manifest.objects.some((o) => o.role === 'grants')) refuse('the manifest has no accounts and grants object');
}
