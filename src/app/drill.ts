import type { Config } from '../config/schema.js';
import { loadIdentityFile } from '../crypto/identity.js';
import { RestoreVerificationError } from '../errors.js';
import type { DatabaseDetails } from '../format/details.js';
import { DRILL_FORMAT, drillReportKey, serializeDrillReport, type DrillReport } from '../format/drill-report.js';
import type { Manifest } from '../format/manifest.js';
import { loadAndVerifyDatabases } from '../load/figures.js';
import { connect } from '../mysql/connection.js';
import type { MysqlTarget } from '../mysql/credentials.js';
import { countSchemaObjects } from '../mysql/schema-sql.js';
import { checkScratchServerTools, startScratchServer } from '../mysql/scratch-server.js';
import type { Storage } from '../repository/storage.js';
import type { Progress } from '../report/progress.js';
import { info, warn, type Reporter } from '../report/reporter.js';
import { fetchSnapshot } from '../restore/fetch.js';
import { runJob } from '../service/job.js';
import { ownNode, type AppContext, type JobOptions } from './context.js';
import { openSnapshot, type SnapshotChoice } from './select-snapshot.js';

export interface DrillRequest extends SnapshotChoice, JobOptions {
  /** Snapshots of another node. */
  node?: string;
  /** The age identity file that decrypts the snapshot. */
  identityFile: string;
}

/**
 * `ngcp-backup drill` and the daemon's scheduled drill: the snapshot chosen, the identity loaded,
 * the scratch server's programs checked, then the drill under the host's lock, recorded.
 */
export async function drill(ctx: AppContext, request: DrillRequest): Promise<DrillReport> {
  const { identities, warning } = await loadIdentityFile(request.identityFile);
  if (warning) warn(ctx.reporter, warning);
  await checkScratchServerTools();
  const manifest = await openSnapshot(ctx.storage, request.node ?? (await ownNode(ctx.config)), request, 'drill');
  const progress = ctx.progress({ label: 'download' });
  return runJob(ctx, { command: request.command ?? 'drill', record: 'drill', lockWait: request.lockWait }, async (reporter) => {
    const report = await runDrill({ ...ctx, reporter, progress }, manifest, identities);
    return { value: report, outcome: { snapshot: report.snapshot } };
  }).finally(() => progress.end());
}

/**
 * Proves a snapshot restores: loads every database into a scratch MariaDB started in a
 * temporary directory, recomputes every table's figures and counts the schema objects, and
 * writes the report into the repository. A mismatch is a failed drill (exit 15).
 */
export async function runDrill(
  deps: { config: Config; storage: Storage; reporter: Reporter; signal?: AbortSignal; now?: () => Date; progress?: Progress },
  manifest: Manifest,
  identities: string[],
): Promise<DrillReport> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const t0 = performance.now();
  const objects = manifest.objects.filter((o) => o.role !== 'files');
  await checkScratchServerTools();
  const fetched = await fetchSnapshot(deps.storage, manifest, objects, identities, deps.config.restore.workDir, { reporter: deps.reporter, signal: deps.signal, progress: deps.progress });
  let report: DrillReport;
  try {
    const server = await startScratchServer({ workDir: deps.config.drill.workDir, bufferPoolMiB: deps.config.drill.bufferPoolMiB });
    try {
      const target: MysqlTarget = { socket: server.socket, user: 'root', describe: 'the drill MariaDB' };
      const selection = { databases: manifest.databases, grants: true };
      info(deps.reporter, `drill: loading snapshot ${manifest.id} into a scratch MariaDB`);
      const { checked, mismatches } = await loadAndVerifyDatabases(
        { target, open: fetched.open, reporter: deps.reporter, signal: deps.signal, deferKeysAboveBytes: deps.config.restore.deferKeysAboveMiB * 1024 * 1024 },
        objects,
        selection,
        deps.config.mysql.parallel,
        fetched.details.databases,
      );
      const objectMismatches = await compareObjects(target, fetched.details.databases);
      report = {
        format: DRILL_FORMAT,
        snapshot: manifest.id,
        node: manifest.node,
        startedAt: started.toISOString(),
        durationMs: Math.round(performance.now() - t0),
        ok: mismatches.length === 0 && objectMismatches.length === 0,
        tablesChecked: checked,
        tableMismatches: mismatches.map((m) => `${m.table}: rows ${m.actual.rows}/${m.expected.rows}, checksum ${m.actual.checksum}/${m.expected.checksum}`),
        objectMismatches,
        restoredBytes: objects.reduce((n, o) => n + o.rawSize, 0),
      };
    } finally {
      await server.stop();
    }
  } finally {
    await fetched.cleanup();
  }
  await deps.storage.put(drillReportKey(report), serializeDrillReport(report));
  if (!report.ok) {
    throw new RestoreVerificationError(
      `drill of snapshot ${manifest.id} FAILED: ${[...report.tableMismatches, ...report.objectMismatches].slice(0, 10).join('; ')}`,
    );
  }
  return report;
}

async function compareObjects(target: MysqlTarget, databases: DatabaseDetails[]): Promise<string[]> {
  const db = await connect(target);
  const out: string[] = [];
  try {
    for (const d of databases) {
      const counts = await countSchemaObjects(db, d.name);
      for (const kind of ['views', 'routines', 'triggers', 'events'] as const) {
        if (counts[kind] !== d.objects[kind]) out.push(`${d.name}: ${counts[kind]} ${kind}, the snapshot has ${d.objects[kind]}`);
      }
    }
  } finally {
    await db.close();
  }
  return out;
}
