import { Readable } from 'node:stream';
import { SYSTEM_SCHEMAS, type Config } from '../config/schema.js';
import { connect } from '../mysql/connection.js';
import { resolveMysqlTarget } from '../mysql/credentials.js';
import { dumpDatabases } from '../dump/dump-databases.js';
import { readNgcpVersion, readNodeName } from '../ngcp/facts.js';
import { planNodeFiles } from '../ngcp/files.js';
import { ExitCode, HalfRestoredError, IntegrityError } from '../errors.js';
import { describeRestoreState } from '../format/restore-state.js';
import { alertHalfRestoredOnce, readRestoreState, restoreRunning } from '../service/restore-state.js';
import { manifestKey, newSnapshotId, objectNames, snapshotPrefix, type SnapshotKind } from '../format/layout.js';
import { MANIFEST_FORMAT, serializeManifest, type Manifest, type ManifestObject } from '../format/manifest.js';
import type { Storage } from '../repository/storage.js';
import type { Db } from '../mysql/connection.js';
import { silentProgress, type Progress } from '../report/progress.js';
import { info, warn, type Reporter } from '../report/reporter.js';
import { TOOL_VERSION } from '../version.js';
import { filesArtifactStream } from '../ngcp/files-artifact.js';
import { storeSealed, type SealOptions } from '../repository/sealed.js';
import { DETAILS_FORMAT, serializeDetails, type SnapshotDetails } from '../format/details.js';
import { runJob } from '../service/job.js';
import type { AppContext, JobOptions } from './context.js';

export interface BackupDeps {
  config: Config;
  storage: Storage;
  reporter: Reporter;
  signal?: AbortSignal;
  now?: () => Date;
  /** Plaintext bytes stored against the size information_schema gives (an estimate). */
  progress?: Progress;
}

export interface BackupOptions {
  kind: SnapshotKind;
  note?: string;
}

export interface BackupResult {
  manifest: Manifest;
  warnings: string[];
}

/**
 * One snapshot: node files, every database from one instant, details, and the manifest last.
 * Checks everything it can before storing anything (required files, MariaDB, repository);
 * a run that fails removes what it stored and leaves no manifest.
 */
export async function runBackup(deps: BackupDeps, options: BackupOptions): Promise<BackupResult> {
  const { config, storage, reporter } = deps;
  const now = deps.now ?? (() => new Date());
  const startedAt = now();
  const t0 = performance.now();
  const root = config.node.root;

  const node = await readNodeName(root, config.node.name);
  const ngcpVersion = await readNgcpVersion(root);
  const files = await planNodeFiles(root, config.node.extraPaths);
  files.warnings.forEach((w) => warn(reporter, w));
  const target = await resolveMysqlTarget(config);
  const progress = deps.progress ?? silentProgress;
  const probe = await connect(target);
  const estimate = progress === silentProgress ? undefined : await estimateDataBytes(probe, config.mysql.exclude);
  await probe.close();
  await storage.check();

  const id = newSnapshotId(startedAt, options.kind);
  const prefix = snapshotPrefix(node, id);
  let rawDone = 0;
  const seal: SealOptions = {
    storage,
    recipients: config.encryption.recipients,
    compression: config.compression,
    signal: deps.signal,
    onRawBytes: (n) => progress.update((rawDone += n), estimate),
  };
  const stored: ManifestObject[] = [];
  info(reporter, `snapshot ${id} of node ${node} to ${storage.location}`, { kind: options.kind });
  try {
    const f = await storeSealed(seal, prefix + objectNames.files, filesArtifactStream(root, files.entries));
    stored.push({ name: objectNames.files, role: 'files', size: f.size, sha256: f.sha256, rawSize: f.rawSize });
    info(reporter, `node files stored`, { files: files.entries.length, bytes: f.rawSize });

    const dump = await dumpDatabases(
      { target, seal, prefix, reporter, onStored: (o) => stored.push(o) },
      config.mysql,
    );

    const details: SnapshotDetails = {
      format: DETAILS_FORMAT,
      id,
      node,
      ngcpVersion,
      mariadbVersion: dump.serverVersion,
      binlog: dump.binlog,
      lockMs: dump.lockMs,
      databases: dump.databases,
      grants: dump.grants,
      files: files.entries,
    };
    const d = await storeSealed(seal, prefix + objectNames.details, Readable.from([serializeDetails(details)]), { compress: false });
    stored.push({ name: objectNames.details, role: 'details', size: d.size, sha256: d.sha256, rawSize: d.rawSize });

    await checkSizes(storage, prefix, stored);
    const tables = dump.databases.flatMap((db) => db.tables.filter((t) => t.hasData));
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      id,
      node,
      kind: options.kind,
      note: options.note ?? null,
      startedAt: startedAt.toISOString(),
      finishedAt: now().toISOString(),
      tool: { name: 'ngcp-backup', version: TOOL_VERSION },
      ngcpVersion,
      mariadbVersion: dump.serverVersion,
      recipients: config.encryption.recipients,
      compression: 'zstd',
      encryption: 'age',
      databases: dump.databases.map((db) => db.name),
      summary: {
        tables: tables.length,
        rows: tables.reduce((n, t) => n + (t.rows ?? 0), 0),
        rawBytes: stored.reduce((n, o) => n + o.rawSize, 0),
        storedBytes: stored.reduce((n, o) => n + o.size, 0),
        lockMs: dump.lockMs,
        durationMs: Math.round(performance.now() - t0),
      },
      objects: stored.sort((a, b) => a.name.localeCompare(b.name)),
    };
    deps.signal?.throwIfAborted();
    await storage.put(manifestKey(node, id), serializeManifest(manifest));
    return { manifest, warnings: files.warnings };
  } catch (error) {
    await removeStored(storage, prefix, stored, reporter);
    throw error;
  }
}

/**
 * What the dump will roughly be, for the progress line only: InnoDB's data_length counts pages,
 * not SQL text, so it is an estimate (the line drops the percentage once it is exceeded).
 */
async function estimateDataBytes(db: Db, exclude: string[]): Promise<number | undefined> {
  const skip = [...new Set([...SYSTEM_SCHEMAS, ...exclude])];
  try {
    const rows = await db.query<{ bytes: string | number | null }>(
      `SELECT SUM(data_length) AS bytes FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN (${skip.map(() => '?').join(', ')})`,
      skip,
    );
    const bytes = Number(rows[0]?.bytes ?? 0);
    return bytes > 0 ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/** Lists what was written and compares sizes before the manifest vouches for it. */
async function checkSizes(storage: Storage, prefix: string, stored: ManifestObject[]): Promise<void> {
  const sizes = new Map<string, number>();
  for await (const o of storage.list(prefix)) sizes.set(o.key.slice(prefix.length), o.size);
  for (const o of stored) {
    const size = sizes.get(o.name);
    if (size !== o.size) {
      throw new IntegrityError(`stored object ${prefix}${o.name} has ${size ?? 'no'} bytes in the repository, ${o.size} were written`);
    }
  }
}

async function removeStored(storage: Storage, prefix: string, stored: ManifestObject[], reporter: Reporter): Promise<void> {
  const results = await Promise.allSettled(stored.map((o) => storage.remove(prefix + o.name)));
  await storage.cleanupIncomplete(prefix).catch(() => 0);
  const left = results.filter((r) => r.status === 'rejected').length;
  if (left > 0) warn(reporter, `${left} objects of the failed snapshot could not be removed from ${prefix} (no manifest refers to them)`);
}

/**
 * `ngcp-backup backup` and the daemon's nightly backup: one snapshot under the host's lock,
 * recorded, logged, counted and alerted on (service/job.ts). A half-restored node (a restore
 * that changed it did not complete) is not backed up: such a snapshot would become the newest
 * good one. With allowHalfRestored it is, as kind half-restored, which --latest never picks.
 */
export async function backup(ctx: AppContext, options: BackupOptions & JobOptions & { allowHalfRestored?: boolean }): Promise<BackupResult> {
  const progress = ctx.progress({ label: 'backup' });
  return runJob(ctx, { command: options.command ?? 'backup', record: 'backup', lockWait: options.lockWait }, async (reporter) => {
    const state = await readRestoreState(ctx.config.service.stateDir);
    let kind = options.kind;
    if (state) {
      const node = await readNodeName(ctx.config.node.root, ctx.config.node.name);
      const what = `node ${node} is half-restored: ${describeRestoreState(state, restoreRunning(state))}`;
      const rollback = state.rollbackCommand ? `; to roll back: ${state.rollbackCommand}` : '; no safety snapshot was taken: restore a snapshot to complete it';
      if (!options.allowHalfRestored) {
        const message = `${what}${rollback}. A backup now would store the half-restored databases as the newest snapshot, so it refuses (backup --allow-half-restored takes one anyway, marked half-restored)`;
        await alertHalfRestoredOnce(ctx.config, node, state, message, ExitCode.refused, reporter);
        throw new HalfRestoredError(message);
      }
      warn(reporter, `${what}; backing it up anyway as kind half-restored (--allow-half-restored)`);
      kind = 'half-restored';
    }
    const result = await runBackup({ ...ctx, reporter, progress }, { ...options, kind });
    const s = result.manifest.summary;
    return { value: result, outcome: { bytes: s.storedBytes, snapshot: result.manifest.id, lockMs: s.lockMs } };
  }).finally(() => progress.end());
}
