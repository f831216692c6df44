import { UsageError } from '../errors.js';
import { listSnapshots, readManifest, type SnapshotRef } from '../format/manifest.js';
import type { Storage } from '../repository/storage.js';
import { assertVerified, verifySnapshot } from '../repository/verify.js';
import { readNodeName } from '../ngcp/facts.js';
import { parseFlags } from './args.js';
import { COMMON_OPTIONS, formatBytes, openContext, type CliEnv } from './context.js';

export const usage = `Usage: ngcp-backup verify [ID | --latest] [--json] [--config FILE]
Checks, without any key, that every object of a snapshot is in the repository with the size
and sha256 its manifest records. Exit 14 when anything is missing or differs.`;

export async function run(env: CliEnv): Promise<number> {
  const { values, positionals } = parseFlags('verify', env.args, { ...COMMON_OPTIONS, latest: { type: 'boolean' }, node: { type: 'string' } }, 1);
  if (values.help) {
    env.stdout.write(usage + '\n');
    return 0;
  }
  const ctx = await openContext(env, values);
  await ctx.storage.check();
  const node = values.node ?? (await readNodeName(ctx.config.node.root, ctx.config.node.name));
  const ref = await pickSnapshot(ctx.storage, node, positionals[0], values.latest ?? false, 'verify');
  const manifest = await readManifest(ctx.storage, ref.node, ref.id);
  const progress = ctx.progress({ label: 'verify' });
  const result = await verifySnapshot(ctx.storage, manifest, { signal: env.signal, progress }).finally(() => progress.end());
  const rate = result.seconds > 0 ? result.bytes / 1e6 / result.seconds : 0;
  if (values.json) {
    env.stdout.write(JSON.stringify({ id: manifest.id, ok: result.problems.length === 0, ...result, mbPerSecond: Math.round(rate) }) + '\n');
  } else if (result.problems.length === 0) {
    env.stdout.write(`snapshot ${manifest.id}: ${result.objects} objects, ${formatBytes(result.bytes)} verified in ${result.seconds.toFixed(1)} s (${rate.toFixed(0)} MB/s)\n`);
  }
  assertVerified(manifest, result);
  return 0;
}

/** An explicit id, or the newest snapshot of the node with --latest. */
export async function pickSnapshot(storage: Storage, node: string, id: string | undefined, latest: boolean, command: string): Promise<SnapshotRef> {
  if (id && latest) throw new UsageError(`ngcp-backup ${command}: give a snapshot id or --latest, not both`);
  if (!id && !latest) throw new UsageError(`ngcp-backup ${command}: give a snapshot id or --latest`);
  const refs = await listSnapshots(storage, node);
  if (latest) {
    // Safety snapshots (taken by restore itself) are not what "the latest backup" means.
    const newest = refs.filter((r) => !/-safety-[0-9a-f]{4}$/.test(r.id)).at(-1);
    if (!newest) throw new UsageError(`no snapshot of node ${node} in ${storage.location}`);
    return newest;
  }
  const found = refs.find((r) => r.id === id);
  if (!found) throw new UsageError(`no snapshot ${id} of node ${node} in ${storage.location} (see ngcp-backup list)`);
  return found;
}
