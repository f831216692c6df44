import { RefusedError, UsageError } from '../errors.js';
import type { Manifest, ManifestObject } from '../format/manifest.js';

export interface RestoreOptions {
  only?: 'files' | 'databases';
  database?: string;
  /** `db.table` */
  table?: string;
  safetySnapshot: boolean;
  /** --no-apply */
  noApply: boolean;
  /** --apply: run apply after a selective restore too */
  forceApply: boolean;
  forceVersion: boolean;
}

export interface TargetFacts {
  ngcpVersion: string;
}

export interface RestorePlan {
  snapshot: { id: string; node: string; kind: string; finishedAt: string; ngcpVersion: string };
  files: boolean;
  databases: string[];
  table?: { database: string; table: string };
  grants: boolean;
  objects: ManifestObject[];
  downloadBytes: number;
  safetySnapshot: boolean;
  apply: boolean;
  selective: boolean;
  warnings: string[];
}

/**
 * What a restore will do, decided from the manifest, the target and the flags alone: pure, so
 * that --dry-run prints exactly what a real run executes. Refuses what must not happen.
 */
export function planRestore(manifest: Manifest, target: TargetFacts, options: RestoreOptions): RestorePlan {
  const warnings: string[] = [];
  if (manifest.ngcpVersion !== target.ngcpVersion) {
    const what = `the snapshot is of NGCP ${manifest.ngcpVersion}, this node runs ${target.ngcpVersion}`;
    if (!options.forceVersion) {
      throw new RefusedError(`${what}: its database schema would not match the installed release (install ${manifest.ngcpVersion} first, or restore with --force-version if you are sure)`);
    }
    warnings.push(`${what} (--force-version)`);
  }
  if (options.only && (options.database || options.table)) {
    if (options.only === 'files') throw new UsageError('--only files does not go with --database or --table');
  }
  if (options.database && options.table) throw new UsageError('give --database or --table, not both');

  let table: RestorePlan['table'];
  let databases = manifest.databases;
  if (options.table) {
    const m = /^([^.]+)\.(.+)$/.exec(options.table);
    if (!m) throw new UsageError(`--table must be DATABASE.TABLE, got ${JSON.stringify(options.table)}`);
    table = { database: m[1]!, table: m[2]! };
    if (!manifest.objects.some((o) => o.role === 'data' && o.database === table!.database && o.table === table!.table)) {
      throw new UsageError(`snapshot ${manifest.id} has no table ${options.table}`);
    }
    databases = [table.database];
  } else if (options.database) {
    if (!manifest.databases.includes(options.database)) {
      throw new UsageError(`snapshot ${manifest.id} has no database ${options.database} (it has ${manifest.databases.join(', ')})`);
    }
    databases = [options.database];
  }
  const files = options.only !== 'databases' && !options.database && !options.table;
  if (options.only === 'files') databases = [];
  const selective = Boolean(options.only || options.database || options.table);
  const grants = databases.length > 0 && !selective;

  const objects = manifest.objects.filter((o) => {
    if (o.role === 'details') return true;
    if (o.role === 'files') return files;
    if (o.role === 'grants') return grants;
    if (!o.database || !databases.includes(o.database)) return false;
    if (table && o.role === 'data') return o.table === table.table;
    return true;
  });
  const apply = !options.noApply && (!selective || options.forceApply);
  if (selective && !apply) warnings.push('a selective restore does not run ngcpcfg apply (add --apply to run it)');
  return {
    snapshot: { id: manifest.id, node: manifest.node, kind: manifest.kind, finishedAt: manifest.finishedAt, ngcpVersion: manifest.ngcpVersion },
    files,
    databases,
    table,
    grants,
    objects,
    downloadBytes: objects.reduce((n, o) => n + o.size, 0),
    safetySnapshot: options.safetySnapshot,
    apply,
    selective,
    warnings,
  };
}

export function formatPlan(plan: RestorePlan, applyCommand: string[]): string {
  const s = plan.snapshot;
  const steps = [
    `download ${plan.objects.length} objects (${(plan.downloadBytes / 2 ** 20).toFixed(1)} MiB) and verify each (sha256, decrypt, decompress)`,
    plan.safetySnapshot ? 'take a safety snapshot of this node (what a rollback uses)' : 'NO safety snapshot (--no-safety-snapshot)',
    ...(plan.files ? ['restore the node files (/etc/ngcp-config with .git, constants.yml, debian.cnf, sipwise.cnf, certificates, ...)'] : []),
    ...(plan.table
      ? [`restore table ${plan.table.database}.${plan.table.table} (dropped and reloaded, with its triggers)`]
      : plan.databases.length
        ? [`restore databases (dropped and reloaded): ${plan.databases.join(', ')}`]
        : []),
    ...(plan.grants ? ['restore accounts and grants'] : []),
    ...(plan.databases.length ? ["verify every restored table's row count and checksum against the snapshot"] : []),
    ...(plan.apply ? [`run ${applyCommand.join(' ')} 'restored the system from backup ${s.id}'`] : []),
    ...(plan.databases.length && plan.files ? ['post-checks: service users log in with the restored passwords; CDR export sequence'] : []),
  ];
  return [
    `restore plan for snapshot ${s.id} (${s.kind}, node ${s.node}, NGCP ${s.ngcpVersion}, finished ${s.finishedAt}):`,
    ...steps.map((x, i) => `  ${i + 1}. ${x}`),
    ...plan.warnings.map((w) => `  warning: ${w}`),
  ].join('\n');
}
