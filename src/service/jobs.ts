import path from 'node:path';
import { runBackup } from '../app/backup.js';
import { shipCdrFiles } from '../cdr/ship.js';
import type { Config } from '../config/schema.js';
import { checkIdentityFileMode, readIdentities } from '../crypto/age.js';
import { runDrill } from '../app/drill.js';
import { NgcpBackupError, RefusedError } from '../errors.js';
import { readNodeName } from '../ngcp/facts.js';
import { applyPrune, planPrune } from '../retention/prune.js';
import { DEFAULT_POLICIES_FILE, loadPolicies } from '../retention/policy.js';
import { listSnapshots, readManifest } from '../format/manifest.js';
import type { Storage } from '../repository/storage.js';
import { info, warn, type Reporter } from '../report/reporter.js';
import type { JobName } from '../schedule/plan.js';
import type { JobOutcome } from './job.js';

/**
 * The daemon's jobs: the same core functions the CLI commands call, with the defaults a
 * scheduled run uses (a nightly snapshot, the shipped policies, the newest snapshot for a drill).
 */
export interface JobDeps {
  config: Config;
  storage: Storage;
  reporter: Reporter;
  signal: AbortSignal;
}

export type JobBody = (deps: JobDeps) => Promise<JobOutcome>;

export const JOB_BODIES: Record<JobName, JobBody> = {
  backup: async (deps) => {
    const { manifest } = await runBackup(deps, { kind: 'nightly' });
    const s = manifest.summary;
    info(deps.reporter, `snapshot ${manifest.id} stored`, { bytes: s.storedBytes, lockMs: s.lockMs, durationMs: s.durationMs });
    return { bytes: s.storedBytes, snapshot: manifest.id, lockMs: s.lockMs };
  },

  prune: async (deps) => {
    await deps.storage.check();
    const node = await readNodeName(deps.config.node.root, deps.config.node.name);
    const policies = await loadPolicies(DEFAULT_POLICIES_FILE);
    const plan = await planPrune(deps.storage, node, policies, new Date());
    const result = await applyPrune(deps.storage, plan, { signal: deps.signal });
    info(deps.reporter, `prune: ${result.removed.length} snapshot(s) removed, ${plan.snapshots.filter((s) => s.action === 'keep').length} kept, ${result.locked.length} locked`);
    if (result.failed.length > 0) {
      throw new NgcpBackupError(`prune could not remove ${result.failed.length} snapshot(s): ${result.failed.map((f) => `${f.id}: ${f.error}`).slice(0, 5).join('; ')}`);
    }
    return {};
  },

  'cdr-ship': async (deps) => {
    const { config } = deps;
    if (!config.cdr.enabled) throw new RefusedError('CDR shipping is off in the config (set cdr.enabled: true)');
    await deps.storage.check();
    const result = await shipCdrFiles({
      storage: deps.storage,
      recipients: config.encryption.recipients,
      compression: config.compression,
      signal: deps.signal,
      node: await readNodeName(config.node.root, config.node.name),
      exportDir: path.join(config.node.root, config.cdr.path),
      stateDir: config.cdr.stateDir,
      reporter: deps.reporter,
      policy: { retentionYears: config.cdr.retentionYears, removeLocalAfterDays: config.cdr.removeLocalAfterDays },
    });
    info(deps.reporter, `cdr ship: ${result.shipped.length} file(s) shipped, ${result.damaged.length} damaged shipped aside`, { bytes: result.bytes });
    return { bytes: result.bytes };
  },

  drill: async (deps) => {
    const file = deps.config.drill.identityFile;
    if (!file) throw new RefusedError('a scheduled drill needs drill.identity_file in the config');
    const identities = await readIdentities(file);
    const mode = await checkIdentityFileMode(file);
    if (mode.warning) warn(deps.reporter, mode.warning);
    await deps.storage.check();
    const node = await readNodeName(deps.config.node.root, deps.config.node.name);
    const newest = (await listSnapshots(deps.storage, node)).filter((r) => !/-safety-[0-9a-f]{4}$/.test(r.id)).at(-1);
    if (!newest) throw new RefusedError(`no snapshot of node ${node} in ${deps.storage.location} to drill`);
    const report = await runDrill(deps, await readManifest(deps.storage, newest.node, newest.id), identities);
    info(deps.reporter, `drill of snapshot ${report.snapshot} passed`, { tables: report.tablesChecked });
    return { snapshot: report.snapshot };
  },
};
