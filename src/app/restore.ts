import { runBackup } from './backup.js';
import type { Config } from '../config/schema.js';
import { DatabaseError, InterruptedError, NgcpBackupError, RefusedError, RestoreVerificationError } from '../errors.js';
import { loadAndVerifyDatabases } from '../load/load-databases.js';
import { connect, quoteString } from '../mysql/connection.js';
import { SYSTEM_USERS } from '../mysql/schema-sql.js';
import { resolveMysqlTarget, type MysqlTarget } from '../mysql/credentials.js';
import { readNgcpVersion } from '../ngcp/facts.js';
import type { Manifest } from '../format/manifest.js';
import type { Storage } from '../repository/storage.js';
import type { Progress } from '../report/progress.js';
import { info, warn, type Reporter } from '../report/reporter.js';
import { runApply } from '../ngcp/ngcpcfg.js';
import { fetchSnapshot } from '../restore/fetch.js';
import { restoreFiles } from '../ngcp/restore-files.js';
import { formatPlan, planRestore, type RestoreOptions, type RestorePlan } from '../restore/plan.js';
import { postChecks } from '../ngcp/post-checks.js';

export interface RestoreDeps {
  config: Config;
  storage: Storage;
  reporter: Reporter;
  signal?: AbortSignal;
  /** Download progress (bytes of the snapshot's objects). */
  progress?: Progress;
  /** Asks the operator; resolves true to go on. Not called with --yes or --dry-run. */
  confirm: (plan: RestorePlan, text: string) => Promise<boolean>;
}

export interface RestoreRun extends RestoreOptions {
  identities: string[];
  dryRun: boolean;
  yes: boolean;
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
 * The handbook's recovery, automated: preflight, download and verify everything, safety
 * snapshot, files, databases, figures, `ngcpcfg apply`, post-checks. Nothing on the node changes
 * before every object is verified; apply never runs after a failed step; a failure (or SIGTERM)
 * after the node was touched says what was done and how to roll back.
 */
export async function runRestore(deps: RestoreDeps, manifest: Manifest, run: RestoreRun): Promise<RestoreReport> {
  const { config, storage, reporter, signal } = deps;
  const t0 = performance.now();
  const root = config.node.root;
  const plan = planRestore(manifest, { ngcpVersion: await readNgcpVersion(root) }, run);
  const planText = formatPlan(plan, config.restore.applyCommand);
  let target = await resolveMysqlTarget(config);
  if (plan.databases.length > 0) await checkRestoreRights(target);
  const report: RestoreReport = {
    plan,
    planText,
    dryRun: run.dryRun,
    safetySnapshot: null,
    filesRestored: 0,
    tablesVerified: 0,
    applied: false,
    logins: [],
    warnings: [...plan.warnings],
    durationMs: 0,
  };
  if (run.dryRun) return report;
  if (!run.yes && !(await deps.confirm(plan, planText))) {
    throw new RefusedError('restore not confirmed; nothing was changed (use --yes to run without asking)');
  }

  const fetched = await fetchSnapshot(storage, manifest, plan.objects, run.identities, config.restore.workDir, { reporter, signal, progress: deps.progress });
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
      await runApply(config.restore.applyCommand, `restored the system from backup ${manifest.id}`, reporter, signal);
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
