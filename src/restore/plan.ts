import { RefusedError, UsageError } from '../errors.js';
import type { SnapshotDetails } from '../format/details.js';
import type { Manifest, ManifestObject } from '../format/manifest.js';
import { CONFIG_DIR } from '../ngcp/files.js';
import { NETWORK_YML } from '../ngcp/restore-files.js';

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
  /** --restore-network: take the snapshot's network.yml instead of keeping this node's. */
  restoreNetwork?: boolean;
}

export interface TargetFacts {
  ngcpVersion: string;
}

/** What the restore will overwrite, and where: decided once the details are decrypted. */
export interface TargetState {
  /** node.root */
  root: string;
  /** The MariaDB the config points at, as the operator knows it. */
  server: string;
  /** The databases the server has now (system schemas left out). */
  databases: string[];
  /** Whether this node has /etc/ngcp-config/network.yml. */
  hasNetworkYml: boolean;
  /** Databases this node's backups leave out (mysql.exclude): its safety snapshot will not hold them. */
  excluded: string[];
  /** An unfinished restore of this node (service.state_dir/restore-state.json). */
  halfRestored?: {
    description: string;
    safetySnapshot: string | null;
    rollbackCommand: string | null;
    createdDatabases: string[];
  };
}

export interface Replacements {
  target: { root: string; server: string };
  /** Entries of /etc/ngcp-config in the snapshot (swapped in whole, with .git), or null. */
  configEntries: number | null;
  /** The other node files replaced. */
  files: string[];
  network: 'kept' | 'restored' | 'restored, this node has none' | null;
  /** Dropped and reloaded; `exists`: the node has it now (else the restore creates it). */
  databases: Array<{ name: string; exists: boolean }>;
  /** A rollback drops what the interrupted restore created and its snapshot does not have. */
  dropDatabases: string[];
  /** Accounts replaced (CREATE OR REPLACE USER), or null. */
  accounts: string[] | null;
  /** This restore is the rollback of an interrupted one. */
  rollback: boolean;
  /** Half-restored: the safety snapshot that stays the rollback point (no new one is taken). */
  rollbackPoint: string | null;
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
  /** The snapshot's NGCP release differs and --force-version was given. */
  forcedVersion: boolean;
  warnings: string[];
  /** Set by planTarget once the details and the target are known. */
  replaces?: Replacements;
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
    forcedVersion: manifest.ngcpVersion !== target.ngcpVersion,
    warnings,
  };
}

/**
 * The plan made concrete for this target once the snapshot's details are decrypted: what is
 * replaced (files, databases, accounts), network.yml kept unless --restore-network, and on a
 * half-restored node either the rollback (which drops the databases the interrupted restore
 * created) or another restore that keeps the first safety snapshot as the rollback point. Pure.
 */
export function planTarget(plan: RestorePlan, details: SnapshotDetails, target: TargetState, options: Pick<RestoreOptions, 'restoreNetwork'>): RestorePlan {
  const warnings = [...plan.warnings];
  const half = target.halfRestored;
  const rollback = half !== undefined && half.safetySnapshot === plan.snapshot.id;
  let safetySnapshot = plan.safetySnapshot;
  if (half && !rollback) {
    warnings.push(`this node is half-restored (${half.description}); ${half.rollbackCommand ? `to roll back instead: ${half.rollbackCommand}` : 'no safety snapshot was taken then'}`);
  }
  // The node as it is now is not worth a rollback point: the first safety snapshot stays it.
  if (half) safetySnapshot = false;

  const inConfig = (p: string) => p === CONFIG_DIR || p.startsWith(CONFIG_DIR + '/');
  const entries = plan.files ? details.files : [];
  const configEntries = entries.some((e) => e.path === CONFIG_DIR) ? entries.filter((e) => inConfig(e.path)).length : null;
  const network = !plan.files || !entries.some((e) => e.path === NETWORK_YML) ? null : options.restoreNetwork ? 'restored' : target.hasNetworkYml ? 'kept' : 'restored, this node has none';
  const databases = plan.databases.map((name) => ({ name, exists: target.databases.includes(name) }));
  if (safetySnapshot) {
    const lost = databases.filter((d) => d.exists && target.excluded.includes(d.name)).map((d) => d.name);
    if (lost.length) warnings.push(`database(s) ${lost.join(', ')} will be replaced but are excluded from this node's backups (mysql.exclude): the safety snapshot will not hold them, so a rollback cannot bring them back`);
  }
  return {
    ...plan,
    safetySnapshot,
    warnings,
    replaces: {
      target: { root: target.root, server: target.server },
      configEntries,
      files: entries.filter((e) => !inConfig(e.path) && e.type !== 'directory').map((e) => e.path),
      network,
      databases,
      dropDatabases: rollback ? half.createdDatabases.filter((d) => !plan.databases.includes(d)) : [],
      accounts: plan.grants ? details.grants : null,
      rollback,
      rollbackPoint: half && !rollback ? half.safetySnapshot : null,
    },
  };
}

export interface PlanTextOptions {
  applyCommand: string[];
  /** restore.work_dir */
  workDir: string;
  dryRun?: boolean;
}

export function formatPlan(plan: RestorePlan, options: PlanTextOptions): string {
  const s = plan.snapshot;
  const r = plan.replaces;
  const size = `${(plan.downloadBytes / 2 ** 20).toFixed(1)} MiB`;
  const checks = 'sha256, decrypt, decompress, and that each holds what its manifest entry names';
  const download = options.dryRun
    ? `read ${plan.objects.length} objects (${size}) and verify each (${checks}), keeping nothing: a dry run needs no room in ${options.workDir}`
    : `download ${plan.objects.length} objects (${size}) into ${options.workDir} and verify each (${checks})`;
  const safety = plan.safetySnapshot
    ? 'take a safety snapshot of this node (what a rollback uses)'
    : r?.rollback
      ? 'no safety snapshot: this is the rollback of an unfinished restore'
      : r?.rollbackPoint !== undefined && r.rollbackPoint !== null
        ? `no new safety snapshot: this node is half-restored, the rollback point stays ${r.rollbackPoint}`
        : 'NO safety snapshot (--no-safety-snapshot)';
  const files = (): string[] => {
    if (!plan.files) return [];
    if (!r) return ['restore the node files (/etc/ngcp-config with .git, constants.yml, debian.cnf, sipwise.cnf, certificates, ...)'];
    const network =
      r.network === 'kept'
        ? `; network.yml KEPT as this node has it (--restore-network takes the snapshot's)`
        : r.network === 'restored'
          ? `; network.yml REPLACED by the snapshot's (--restore-network): check its interfaces and addresses before ngcpcfg apply`
          : r.network === 'restored, this node has none'
            ? `; network.yml from the snapshot (this node has none)`
            : '';
    const config = r.configEntries !== null ? `${CONFIG_DIR} swapped in whole with .git (${r.configEntries} entries${network})` : null;
    return [`replace the node files: ${[config, ...r.files].filter((x) => x !== null).join(', ')}`];
  };
  const databases = (): string[] => {
    if (plan.table) return [`restore table ${plan.table.database}.${plan.table.table} (dropped and reloaded, with its triggers)`];
    if (!plan.databases.length) return [];
    if (!r) return [`restore databases (dropped and reloaded): ${plan.databases.join(', ')}`];
    const created = r.databases.filter((d) => !d.exists).map((d) => d.name);
    const replaced = r.databases.filter((d) => d.exists).map((d) => d.name);
    return [
      [
        replaced.length ? `drop and reload databases: ${replaced.join(', ')}` : '',
        created.length ? `${replaced.length ? '; ' : ''}create databases this node does not have: ${created.join(', ')}` : '',
      ].join(''),
    ];
  };
  const accounts = (): string[] => {
    if (!plan.grants) return [];
    const list = r?.accounts;
    if (!list) return ['restore accounts and grants'];
    return [`replace accounts and grants (CREATE OR REPLACE USER): ${list.length} account(s)${list.length ? `: ${list.slice(0, 20).join(', ')}${list.length > 20 ? ', ...' : ''}` : ''}`];
  };
  const steps = [
    download,
    safety,
    ...files(),
    ...(r?.dropDatabases.length ? [`drop databases the unfinished restore created, which this snapshot does not have: ${r.dropDatabases.join(', ')}`] : []),
    ...databases(),
    ...accounts(),
    ...(plan.databases.length ? ["verify every restored table's row count and checksum against the snapshot"] : []),
    ...(plan.apply ? [`run ${options.applyCommand.join(' ')} 'restored the system from backup ${s.id}'`] : []),
    ...(plan.databases.length && plan.files ? ['post-checks: service users log in with the restored passwords; CDR export sequence'] : []),
  ];
  return [
    `restore plan for snapshot ${s.id} (${s.kind}, node ${s.node}, NGCP ${s.ngcpVersion}, finished ${s.finishedAt}):`,
    ...(r ? [`  target: node root ${r.target.root}; ${r.target.server}`] : []),
    ...steps.map((x, i) => `  ${i + 1}. ${x}`),
    ...plan.warnings.map((w) => `  warning: ${w}`),
  ].join('\n');
}
