import type { Config } from '../config/schema.js';
import { loadIdentityFile } from '../crypto/identity.js';
import { DatabaseError, InterruptedError, NgcpBackupError, RefusedError, RestoreVerificationError } from '../errors.js';
import type { Manifest } from '../format/manifest.js';
import { loadAndVerifyDatabases } from '../load/figures.js';
import { connect, quoteString } from '../mysql/connection.js';
import { resolveMysqlTarget, type MysqlTarget } from '../mysql/credentials.js';
import { SYSTEM_USERS } from '../mysql/schema-sql.js';
import { readNgcpVersion } from '../ngcp/facts.js';
import { runNgcpcfgApply } from '../ngcp/ngcpcfg.js';
import { postChecks } from '../ngcp/post-checks.js';
import { restoreFiles } from '../ngcp/restore-files.js';
import type { Storage } from '../repository/storage.js';
import type { Progress } from '../report/progress.js';
import { info, warn, type Reporter } from '../report/reporter.js';
import { fetchSnapshot } from '../restore/fetch.js';
import { formatPlan, planRestore, type RestoreOptions, type RestorePlan } from '../restore/plan.js';
import { runJob } from '../service/job.js';
import { runBackup } from './backup.js';
import { ownNode, type AppContext, type JobOptions } from './context.js';
import { openSnapshot, type SnapshotChoice } from './select-snapshot.js';

export interface RestoreRequest extends SnapshotChoice, RestoreOptions {
  /** Snapshots of another node (a replacement machine). */
  node?: string;
  /** The age identity file that decrypts the snapshot. */
  identityFile: string;
}

/** What a restore will do, decided before anything is locked or touched (what --dry-run prints). */
export interface PreparedRestore {
  manifest: Manifest;
  identities: string[];
  plan: RestorePlan;
  planText: string;
  target: MysqlTarget;
}

export interface RestoreReport {
  plan: RestorePlan;
  planText: string;
  dryRun: boolean;
  safetySnapshot: string | null;
  filesRestored: number;
  tablesVerified: number;
  applied: boolean;
  logins: Array<{ user: string; ok: boolean }>;
  warnings: string[];
  durationMs: number;
}

/**
 * The preflight: the identity, the snapshot, the plan (pure: restore/plan.ts), MariaDB reachable
 * with the rights to replace databases. Changes nothing.
 */
export async function prepareRestore(ctx: AppContext, request: RestoreRequest): Promise<PreparedRestore> {
  const { identities, warning } = await loadIdentityFile(request.identityFile);
  if (warning) warn(ctx.reporter, warning);
  const manifest = await openSnapshot(ctx.storage, request.node ?? (await ownNode(ctx.config)), request, 'restore');
  const plan = planRestore(manifest, { ngcpVersion: await readNgcpVersion(ctx.config.node.root) }, request);
  const planText = formatPlan(plan, ctx.config.restore.applyCommand);
  const target = await resolveMysqlTarget(ctx.config);
  if (plan.databases.length > 0) await checkRestoreRights(target);
  return { manifest, identities, plan, planText, target };
}

/** The report of a dry run: the plan, nothing done. */
export function dryRunReport(prepared: PreparedRestore): RestoreReport {
  const { plan, planText } = prepared;
  return { plan, planText, dryRun: true, safetySnapshot: null, filesRestored: 0, tablesVerified: 0, applied: false, logins: [], warnings: [...plan.warnings], durationMs: 0 };
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
 * object is verified; apply never runs after a failed step; a failure (or SIGTERM) after the node
 * was touched says what was done and how to roll back.
 */
async function executeRestore(
  deps: { config: Config; storage: Storage; reporter: Reporter; signal?: AbortSignal; progress?: Progress },
  prepared: PreparedRestore,
): Promise<RestoreReport> {
  const { config, storage, reporter, signal } = deps;
  const { manifest, plan } = prepared;
  let target = prepared.target;
  const t0 = performance.now();
  const root = config.node.root;
  const report: RestoreReport = { ...dryRunReport(prepared), dryRun: false };

  const fetched = await fetchSnapshot(storage, manifest, plan.objects, prepared.identities, config.restore.workDir, { reporter, signal, progress: deps.progress });
  const done: string[] = [];
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

    if (plan.files) {
      const filesObject = plan.objects.find((o) => o.role === 'files')!;
      const { restored } = await restoreFiles(root, await fetched.open(filesObject.name), fetched.details.files, `ngcp-backup-restore-${manifest.id}`);
      report.filesRestored = restored.length;
      done.push(`node files (${restored.length})`);
      info(reporter, 'node files restored', { files: restored.length });
    }
    signal?.throwIfAborted();

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
      if (plan.files && plan.grants) target = await alignMaintenanceAccount(config, target, reporter);
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
      done.push('ngcpcfg apply');
    }

    if (plan.files && plan.databases.length > 0 && !plan.selective) {
      const checks = await postChecks(root, target, config.cdr.path);
      report.logins = checks.logins.map(({ user, ok }) => ({ user, ok }));
      report.warnings.push(...checks.warnings);
      for (const l of checks.logins.filter((x) => !x.ok)) report.warnings.push(`service user ${l.user} (constants.yml credentials.mysql.${l.key}) cannot log in: ${l.error}`);
    }
    report.warnings.forEach((w) => warn(reporter, w));
    report.durationMs = Math.round(performance.now() - t0);
    return report;
  } catch (error) {
    throw withRollbackAdvice(error, done, report.safetySnapshot, signal);
  } finally {
    await fetched.cleanup();
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

/** MariaDB must be there and let us replace databases. */
async function checkRestoreRights(target: MysqlTarget): Promise<void> {
  const db = await connect(target);
  try {
    const grants = (await db.query<Record<string, string>>('SHOW GRANTS')).map((g) => Object.values(g)[0]!);
    if (!grants.some((g) => /^GRANT ALL PRIVILEGES ON \*\.\* /.test(g))) {
      throw new DatabaseError(`${target.describe} lacks the rights to restore (needs ALL PRIVILEGES ON *.*; use root or debian-sys-maint)`);
    }
  } finally {
    await db.close();
  }
}

function withRollbackAdvice(error: unknown, done: string[], safety: string | null, signal?: AbortSignal): unknown {
  if (done.length === 0) return signal?.aborted && signal.reason instanceof InterruptedError ? signal.reason : error;
  const advice =
    `\nrestored before it stopped: ${done.join(', ')}` +
    (safety
      ? `\nto roll back: ngcp-backup restore ${safety} --identity FILE --yes --no-safety-snapshot`
      : '\nno safety snapshot was taken (--no-safety-snapshot): restore another snapshot to roll back');
  if (signal?.aborted && signal.reason instanceof InterruptedError) {
    return new InterruptedError(signal.reason.signal, `stopped by ${signal.reason.signal}${advice}`);
  }
  if (error instanceof NgcpBackupError) {
    error.message += advice;
    return error;
  }
  return error;
}
