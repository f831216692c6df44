import { access } from 'node:fs/promises';
import path from 'node:path';
import { SYSTEM_SCHEMAS, type Config } from '../config/schema.js';
import { loadIdentityFile } from '../crypto/identity.js';
import { classifyError, DatabaseError, exitCodeOf, InterruptedError, NgcpBackupError, RefusedError, RestoreVerificationError } from '../errors.js';
import type { SnapshotDetails } from '../format/details.js';
import type { Manifest } from '../format/manifest.js';
import { describeRestoreState, RESTORE_STATE_FORMAT, type RestoreState } from '../format/restore-state.js';
import { loadAndVerifyDatabases } from '../load/figures.js';
import { connect, quoteIdent, quoteString } from '../mysql/connection.js';
import { resolveMysqlTarget, type MysqlTarget } from '../mysql/credentials.js';
import { SYSTEM_USERS } from '../mysql/schema-sql.js';
import { readNgcpVersion } from '../ngcp/facts.js';
import { runNgcpcfgApply } from '../ngcp/ngcpcfg.js';
import { postChecks } from '../ngcp/post-checks.js';
import { NETWORK_YML, restoreFiles } from '../ngcp/restore-files.js';
import type { Storage } from '../repository/storage.js';
import type { Progress } from '../report/progress.js';
import { info, warn, type Reporter } from '../report/reporter.js';
import { redact } from '../report/secrets.js';
import { checkCoverage } from '../restore/coverage.js';
import { fetchDetails, fetchSnapshot, proveSnapshot } from '../restore/fetch.js';
import { formatPlan, planRestore, planTarget, type RestoreOptions, type RestorePlan } from '../restore/plan.js';
import { rollbackCommand } from '../restore/rollback.js';
import { runJob } from '../service/job.js';
import {
  alertHalfRestoredOnce,
  readRestoreState,
  refreshMetrics,
  removeRestoreState,
  restoreRunning,
  thisProcess,
  writeRestoreState,
} from '../service/restore-state.js';
import { runBackup } from './backup.js';
import { ownNode, type AppContext, type JobOptions } from './context.js';
import { openSnapshot, type SnapshotChoice } from './select-snapshot.js';

export interface RestoreRequest extends SnapshotChoice, RestoreOptions {
  /** Snapshots of another node (a replacement machine). */
  node?: string;
  /** The age identity file that decrypts the snapshot. */
  identityFile: string;
  /** The config file, when not the default: the printed rollback command names it. */
  configFile?: string;
  /** A dry run: the plan says it reads without keeping anything. */
  dryRun?: boolean;
}

/** What a restore will do, decided and checked before anything is locked or touched (what --dry-run prints). */
export interface PreparedRestore {
  manifest: Manifest;
  details: SnapshotDetails;
  identities: string[];
  plan: RestorePlan;
  planText: string;
  target: MysqlTarget;
  /** This node's name (what its safety snapshot is stored under). */
  node: string;
  /** An unfinished restore of this node, found at preparation. */
  halfRestored: RestoreState | undefined;
  request: RestoreRequest;
}

export interface RestoreReport {
  plan: RestorePlan;
  planText: string;
  dryRun: boolean;
  safetySnapshot: string | null;
  filesRestored: number;
  /** Files kept as the node had them (network.yml). */
  filesKept: string[];
  /** Databases dropped by a rollback (the unfinished restore created them). */
  databasesDropped: string[];
  tablesVerified: number;
  /** A dry run: objects read and proven (sha256, decryption, content). */
  objectsVerified: number;
  applied: boolean;
  logins: Array<{ user: string; ok: boolean }>;
  warnings: string[];
  durationMs: number;
}

/**
 * The preflight, before the lock and before anything is touched: the identity, the snapshot,
 * the plan (pure: restore/plan.ts), the small details object downloaded and decrypted first (a
 * wrong identity is refused before any big download), the manifest checked against the details
 * (every table's data objects there, each under its own table), MariaDB reachable with the
 * rights to replace databases, and what the restore will replace on this target.
 */
export async function prepareRestore(ctx: AppContext, request: RestoreRequest): Promise<PreparedRestore> {
  const { config } = ctx;
  const { identities, warning } = await loadIdentityFile(request.identityFile);
  if (warning) warn(ctx.reporter, warning);
  const node = await ownNode(config);
  const manifest = await openSnapshot(ctx.storage, request.node ?? node, request, 'restore');
  const early = planRestore(manifest, { ngcpVersion: await readNgcpVersion(config.node.root) }, request);
  const details = await fetchDetails(ctx.storage, manifest, identities, ctx.signal);
  checkCoverage(manifest, details, early);
  const target = await resolveMysqlTarget(config);
  const databases = early.databases.length > 0 ? await checkRestoreRights(target) : [];
  const halfRestored = await readRestoreState(config.service.stateDir);
  const plan = planTarget(
    early,
    details,
    {
      root: config.node.root,
      server: target.describe,
      databases,
      hasNetworkYml: await exists(path.join(config.node.root, NETWORK_YML)),
      excluded: config.mysql.exclude,
      halfRestored: halfRestored && {
        description: describeRestoreState(halfRestored, restoreRunning(halfRestored)),
        safetySnapshot: halfRestored.safetySnapshot?.id ?? null,
        rollbackCommand: halfRestored.rollbackCommand,
        createdDatabases: halfRestored.createdDatabases,
      },
    },
    request,
  );
  const planText = formatPlan(plan, { applyCommand: config.restore.applyCommand, workDir: config.restore.workDir, dryRun: request.dryRun });
  return { manifest, details, identities, plan, planText, target, node, halfRestored, request };
}

/** The report of a plan with nothing done. */
export function dryRunReport(prepared: PreparedRestore): RestoreReport {
  const { plan, planText } = prepared;
  return {
    plan,
    planText,
    dryRun: true,
    safetySnapshot: null,
    filesRestored: 0,
    filesKept: [],
    databasesDropped: [],
    tablesVerified: 0,
    objectsVerified: 0,
    applied: false,
    logins: [],
    warnings: [...plan.warnings],
    durationMs: 0,
  };
}

/**
 * --dry-run: proves what the restore would meet without touching the node or the work
 * directory, and without the lock: every object read from the repository through sha256,
 * decryption, decompression and the content checks, and discarded.
 */
export async function dryRunRestore(ctx: AppContext, prepared: PreparedRestore): Promise<RestoreReport> {
  const t0 = performance.now();
  const progress = ctx.progress({ label: 'verify' });
  try {
    const objects = prepared.plan.objects.filter((o) => o.role !== 'details');
    await proveSnapshot(ctx.storage, prepared.manifest, objects, prepared.identities, prepared.details, { reporter: ctx.reporter, signal: ctx.signal, progress });
    return { ...dryRunReport(prepared), objectsVerified: objects.length + 1, durationMs: Math.round(performance.now() - t0) };
  } finally {
    progress.end();
  }
}

/** Carries out a prepared restore under the host's lock. */
export async function applyRestore(ctx: AppContext, prepared: PreparedRestore, job: JobOptions = {}): Promise<RestoreReport> {
  const progress = ctx.progress({ label: 'download' });
  return runJob(ctx, { command: job.command ?? 'restore', lockWait: job.lockWait }, async (reporter) => ({
    value: await executeRestore({ ...ctx, reporter, progress }, prepared),
  })).finally(() => progress.end());
}

/**
 * The handbook's recovery, automated: download and verify everything, safety snapshot, files,
 * databases, figures, `ngcpcfg apply`, post-checks. Nothing on the node changes before every
 * object is verified; before the first change the node remembers the restore
 * (service.state_dir/restore-state.json), until it completes or is rolled back; apply never
 * runs after a failed step; a failure (or SIGTERM) after the node was touched says what was done
 * and gives the rollback command, and alerts once.
 */
async function executeRestore(
  deps: { config: Config; storage: Storage; reporter: Reporter; signal?: AbortSignal; progress?: Progress },
  prepared: PreparedRestore,
): Promise<RestoreReport> {
  const { config, storage, reporter, signal } = deps;
  const { manifest, plan, request } = prepared;
  const replaces = plan.replaces!;
  const stateDir = config.service.stateDir;
  let target = prepared.target;
  const t0 = performance.now();
  const root = config.node.root;
  const report: RestoreReport = { ...dryRunReport(prepared), dryRun: false };

  // The plan was made before the lock: another restore may have changed the node's state since.
  const earlier = await readRestoreState(stateDir);
  if ((earlier?.safetySnapshot?.id ?? earlier?.snapshot.id) !== (prepared.halfRestored?.safetySnapshot?.id ?? prepared.halfRestored?.snapshot.id)) {
    throw new RefusedError('the restore state of this node changed while the plan was made (another restore ran); nothing was changed: run the restore again');
  }

  const fetched = await fetchSnapshot(storage, manifest, plan.objects, prepared.identities, config.restore.workDir, {
    details: prepared.details,
    reporter,
    signal,
    progress: deps.progress,
  });
  // Every step, for the advice after a failure; the state keeps the big ones only.
  const done: string[] = [];
  const steps: string[] = [];
  let state: RestoreState | undefined;
  let rollback: string | null = null;
  const remember = async (step: string): Promise<void> => {
    if (!done.includes(step)) done.push(step);
    steps.push(step);
    if (!state) return;
    state = { ...state, done: replaces.rollback ? state.done : [...steps] };
    await writeRestoreState(stateDir, state);
  };
  try {
    if (plan.safetySnapshot) {
      info(reporter, 'taking a safety snapshot of this node before changing it');
      try {
        const safety = await runBackup({ config, storage, reporter, signal }, { kind: 'safety', note: `before restoring ${manifest.id}` });
        report.safetySnapshot = safety.manifest.id;
      } catch (error) {
        if (error instanceof InterruptedError) throw error;
        throw new RefusedError(`the safety snapshot failed, so nothing was changed: ${(error as Error).message} (fix it, or restore with --no-safety-snapshot)`, { cause: error });
      }
    }
    signal?.throwIfAborted();

    // Remembered before the first change to the node.
    const first = nextState(prepared, earlier, report.safetySnapshot, fetched.dir);
    await writeRestoreState(stateDir, first);
    state = first;
    rollback = first.rollbackCommand;
    await refreshMetrics(config, prepared.node).catch((e: unknown) => warn(reporter, `could not write the metrics file: ${(e as Error).message}`));

    if (plan.files) {
      const filesObject = plan.objects.find((o) => o.role === 'files')!;
      const { restored, kept } = await restoreFiles(root, await fetched.open(filesObject.name), fetched.details.files, `ngcp-backup-restore-${manifest.id}`, {
        keep: request.restoreNetwork ? [] : [NETWORK_YML],
      });
      report.filesRestored = restored.length;
      report.filesKept = kept;
      info(reporter, 'node files restored', { files: restored.length, kept: kept.join(', ') || 'none' });
      await remember(`node files (${restored.length})`);
      // At once, not after the load: from here on the node's own debian.cnf (the restored one)
      // must work, also for the rollback command if this run is killed.
      if (plan.grants) target = await alignMaintenanceAccount(config, target, reporter);
    }
    signal?.throwIfAborted();

    if (replaces.dropDatabases.length > 0) {
      await dropDatabases(target, replaces.dropDatabases);
      report.databasesDropped = [...replaces.dropDatabases];
      info(reporter, `dropped the databases the unfinished restore created: ${replaces.dropDatabases.join(', ')}`);
      await remember(`dropped ${replaces.dropDatabases.join(', ')}`);
    }

    if (plan.databases.length > 0) {
      const selection = { databases: plan.databases, table: plan.table, grants: plan.grants };
      // The figures are recomputed as each table's rows are in, beside the load and the key
      // builds (before the accounts are restored, so with the credentials the load uses).
      const { checked, mismatches } = await loadAndVerifyDatabases(
        { target, open: fetched.open, reporter, signal, progress: (step) => done.push(step), deferKeysAboveBytes: config.restore.deferKeysAboveMiB * 1024 * 1024 },
        plan.objects,
        selection,
        config.mysql.parallel,
        fetched.details.databases,
      );
      await remember(`databases (${plan.databases.length})`);
      report.tablesVerified = checked;
      if (mismatches.length > 0) {
        const list = mismatches
          .slice(0, 10)
          .map((m) => `${m.table} (rows ${m.actual.rows}, expected ${m.expected.rows}; checksum ${m.actual.checksum}, expected ${m.expected.checksum})`)
          .join('; ');
        throw new RestoreVerificationError(`${mismatches.length} of ${checked} restored tables do not match the snapshot: ${list}`);
      }
      info(reporter, 'every restored table matches the snapshot', { tables: checked });
    }
    signal?.throwIfAborted();

    if (plan.apply) {
      info(reporter, `running ${config.restore.applyCommand.join(' ')}`);
      await runNgcpcfgApply(config.restore.applyCommand, `restored the system from backup ${manifest.id}`, reporter, signal);
      report.applied = true;
      await remember('ngcpcfg apply');
    }

    if (plan.files && plan.databases.length > 0 && !plan.selective) {
      const checks = await postChecks(root, target, config.cdr.path);
      report.logins = checks.logins.map(({ user, ok }) => ({ user, ok }));
      report.warnings.push(...checks.warnings);
      for (const l of checks.logins.filter((x) => !x.ok)) report.warnings.push(`service user ${l.user} (constants.yml credentials.mysql.${l.key}) cannot log in: ${l.error}`);
    }
    await finishState(config, prepared, earlier, reporter);
    report.warnings.forEach((w) => warn(reporter, w));
    report.durationMs = Math.round(performance.now() - t0);
    return report;
  } catch (error) {
    const advised = withRollbackAdvice(error, done, state !== undefined, rollback, signal);
    if (state) await recordFailure(config, prepared.node, state, advised, reporter);
    throw advised;
  } finally {
    await fetched.cleanup();
  }
}

/** The state a restore writes before its first change: its own, or the unfinished one it continues or rolls back. */
function nextState(prepared: PreparedRestore, earlier: RestoreState | undefined, safetyId: string | null, download: string): RestoreState {
  const { manifest, plan, request, node } = prepared;
  const replaces = plan.replaces!;
  const now = new Date().toISOString();
  if (earlier && replaces.rollback) return { ...earlier, ...thisProcess(), failed: null, download };
  const point = earlier ? earlier.safetySnapshot : safetyId ? { id: safetyId, node } : null;
  const created = replaces.databases.filter((d) => !d.exists).map((d) => d.name);
  const forcedBefore = earlier?.rollbackCommand?.includes(' --force-version') ?? false;
  return {
    format: RESTORE_STATE_FORMAT,
    snapshot: { id: manifest.id, node: manifest.node },
    selection: { files: plan.files, databases: plan.databases, table: plan.table ? `${plan.table.database}.${plan.table.table}` : null },
    safetySnapshot: point,
    rollbackCommand: point
      ? rollbackCommand({
          safetyId: point.id,
          safetyNode: point.node,
          restoredNodes: [manifest.node, ...(earlier ? [earlier.snapshot.node] : [])],
          configFile: request.configFile,
          identityFile: path.resolve(request.identityFile),
          forceVersion: plan.forcedVersion || forcedBefore,
        })
      : null,
    createdDatabases: [...new Set([...(earlier?.createdDatabases ?? []), ...created])],
    ...thisProcess(),
    started: now,
    updated: now,
    done: [],
    failed: null,
    alertedAt: earlier?.alertedAt ?? null,
    download,
  };
}

/**
 * A completed restore forgets the unfinished one when it made the node whole again: the
 * rollback, a full restore, or the same restore again. A selective restore on a half-restored
 * node leaves it half-restored.
 */
async function finishState(config: Config, prepared: PreparedRestore, earlier: RestoreState | undefined, reporter: Reporter): Promise<void> {
  const { plan, manifest } = prepared;
  const same = (s: RestoreState) => s.snapshot.id === manifest.id && s.selection.files === plan.files && s.selection.databases.join() === plan.databases.join() && s.selection.table === (plan.table ? `${plan.table.database}.${plan.table.table}` : null);
  if (!earlier || plan.replaces!.rollback || !plan.selective || same(earlier)) {
    await removeRestoreState(config.service.stateDir);
    if (earlier) info(reporter, `this node is no longer half-restored (${plan.replaces!.rollback ? 'rolled back' : 'restored'})`);
  } else {
    await writeRestoreState(config.service.stateDir, earlier);
    warn(reporter, `this node is still half-restored from the restore of ${earlier.snapshot.id}${earlier.rollbackCommand ? `; to roll back: ${earlier.rollbackCommand}` : ''}`);
  }
  await refreshMetrics(config, prepared.node).catch((e: unknown) => warn(reporter, `could not write the metrics file: ${(e as Error).message}`));
}

/** The node stays half-restored: the state says how the restore ended, and the alert goes out once. */
async function recordFailure(config: Config, node: string, state: RestoreState, error: unknown, reporter: Reporter): Promise<void> {
  const message = redact(error instanceof Error ? error.message : String(error));
  try {
    const failed = { ...state, failed: message.split('\n')[0]! };
    await writeRestoreState(config.service.stateDir, failed);
    // Stopped on purpose (SIGTERM, Ctrl-C): the operator is there; the next backup alerts if it stays so.
    if (!(error instanceof InterruptedError)) {
      await alertHalfRestoredOnce(config, node, failed, `node ${node} is half-restored: ${message}`, exitCodeOf(error), reporter);
    }
    await refreshMetrics(config, node);
  } catch (e) {
    warn(reporter, `could not record the unfinished restore in ${config.service.stateDir} (service.state_dir): ${(e as Error).message}`);
  }
}

/**
 * The restored debian.cnf (mysql.defaults_file) holds the old node's password for its account
 * (debian-sys-maint), a system account that snapshots do not carry. So that the node's own file
 * works again, that account gets the restored password (through the protocol, never argv).
 * Returns the target as the restored file describes it.
 */
async function alignMaintenanceAccount(config: Config, before: MysqlTarget, reporter: Reporter): Promise<MysqlTarget> {
  if (!config.mysql.defaultsFile) return before;
  const after = await resolveMysqlTarget(config);
  if (after.user === before.user && after.password === before.password) return after;
  try {
    await (await connect(after)).close();
    return after;
  } catch {
    // falls through: the restored credentials do not work yet
  }
  if (!SYSTEM_USERS.includes(after.user) || after.user === 'root') return before;
  const db = await connect(before);
  try {
    await db.query('SET SESSION sql_log_bin = 0').catch(() => {});
    const hosts = await db.query<{ host: string }>('SELECT Host AS host FROM mysql.user WHERE User = ?', [after.user]);
    for (const { host } of hosts) {
      await db.querySecret(`ALTER USER ${quoteString(after.user)}@${quoteString(host)} IDENTIFIED BY ${quoteString(after.password ?? '')}`, `setting the password of ${after.user}`);
    }
  } finally {
    await db.close();
  }
  info(reporter, `account ${after.user} now uses the password of the restored ${config.mysql.defaultsFile}`);
  return after;
}

/** MariaDB must be there and let us replace databases; returns the databases it has (system schemas left out). */
async function checkRestoreRights(target: MysqlTarget): Promise<string[]> {
  const db = await connect(target);
  try {
    const grants = (await db.query<Record<string, string>>('SHOW GRANTS')).map((g) => Object.values(g)[0]!);
    if (!grants.some((g) => /^GRANT ALL PRIVILEGES ON \*\.\* /.test(g))) {
      throw new DatabaseError(`${target.describe} lacks the rights to restore (needs ALL PRIVILEGES ON *.*; use root or debian-sys-maint)`);
    }
    const rows = await db.query<Record<string, string>>('SHOW DATABASES');
    return rows.map((r) => Object.values(r)[0]!).filter((d) => !SYSTEM_SCHEMAS.includes(d));
  } finally {
    await db.close();
  }
}

async function dropDatabases(target: MysqlTarget, names: string[]): Promise<void> {
  const db = await connect(target);
  try {
    await db.query('SET SESSION sql_log_bin = 0').catch(() => {});
    for (const name of names) await db.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
  } finally {
    await db.close();
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

function withRollbackAdvice(raw: unknown, done: string[], touched: boolean, rollback: string | null, signal?: AbortSignal): unknown {
  const error = classifyError(raw);
  if (!touched) return signal?.aborted && signal.reason instanceof InterruptedError ? signal.reason : error;
  const advice =
    `\nrestored before it stopped: ${done.length ? done.join(', ') : 'nothing yet'}` +
    (rollback ? `\nto roll back: ${rollback}` : '\nno safety snapshot was taken (--no-safety-snapshot): restore another snapshot to roll back') +
    '\nthis node is half-restored until then: backups refuse (ngcp-backup status shows it)';
  if (signal?.aborted && signal.reason instanceof InterruptedError) {
    return new InterruptedError(signal.reason.signal, `stopped by ${signal.reason.signal}${advice}`);
  }
  if (error instanceof NgcpBackupError) {
    error.message += advice;
    return error;
  }
  return error;
}
