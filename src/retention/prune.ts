import { mapConcurrently } from '../util/pool.js';
import { ObjectNotFoundError } from '../errors.js';
import { manifestKey, snapshotPrefix, snapshotsPrefix, SNAPSHOT_ID, snapshotTime } from '../format/layout.js';
import type { Storage } from '../repository/storage.js';
import { planRetention, type Policies } from './policy.js';
import { newestPassedDrill, readManifest } from '../repository/snapshots.js';

/**
 * Prune, as plan then apply: planPrune reads the repository and decides (nothing is changed);
 * applyPrune removes exactly what the plan says, each snapshot manifest first so that a crash
 * half-way leaves an incomplete snapshot (invisible, like an interrupted backup), never a
 * manifest pointing at missing objects. A snapshot with an object still under S3 Object Lock is
 * not touched at all (asked while planning, and again just before removing it).
 */

export interface PrunePlanSnapshot {
  node: string;
  id: string;
  kind: string;
  finishedAt: string;
  verified: boolean;
  /** `locked`: the policy would remove it, but S3 Object Lock protects an object of it. */
  action: 'keep' | 'remove' | 'locked';
  reasons: string[];
}

export interface PrunePlan {
  location: string;
  now: string;
  snapshots: PrunePlanSnapshot[];
}

export interface PruneResult {
  removed: Array<{ node: string; id: string; objects: number }>;
  locked: Array<{ node: string; id: string; reasons: string[] }>;
  failed: Array<{ node: string; id: string; error: string }>;
}

const CONCURRENCY = 8;

/** Reads every complete snapshot (of one node, or all) and plans each node on its own. */
export async function planPrune(storage: Storage, node: string | undefined, policies: Pick<Policies, 'kinds'>, now: Date): Promise<PrunePlan> {
  // One listing gives manifests, drill reports and every object, instead of one per snapshot.
  const snaps = new Map<string, { node: string; id: string; drills: string[]; keys: string[]; complete: boolean }>();
  for await (const o of storage.list(snapshotsPrefix(node))) {
    const m = /^snapshots\/([^/]+)\/([^/]+)\/(.+)$/.exec(o.key);
    if (!m || !SNAPSHOT_ID.test(m[2]!)) continue;
    const k = `${m[1]}/${m[2]}`;
    let s = snaps.get(k);
    if (!s) snaps.set(k, (s = { node: m[1]!, id: m[2]!, drills: [], keys: [], complete: false }));
    s.keys.push(o.key);
    if (m[3] === 'manifest.json') s.complete = true;
    else if (/^drills\/[^/]+\.json$/.test(m[3]!)) s.drills.push(o.key);
  }
  // Incomplete snapshots (no manifest) are not snapshots: backup's cleanup deals with them.
  const complete = [...snaps.values()].filter((s) => s.complete);

  const read = await mapConcurrently(complete, CONCURRENCY, async (s) => {
    const manifest = await readManifest(storage, s.node, s.id);
    const verified = (await newestPassedDrill(storage, s.drills)) !== undefined;
    const finishedAt = Number.isNaN(Date.parse(manifest.finishedAt)) ? snapshotTime(s.id).toISOString() : manifest.finishedAt;
    return { ...s, kind: manifest.kind as string, finishedAt, verified };
  });

  const byNode = new Map<string, typeof read>();
  for (const s of read) byNode.set(s.node, [...(byNode.get(s.node) ?? []), s]);

  const out: PrunePlanSnapshot[] = [];
  for (const [n, list] of [...byNode].sort(([a], [b]) => a.localeCompare(b))) {
    const plan = planRetention(list, policies, now);
    const info = new Map(list.map((s) => [s.id, s]));
    const entries = await mapConcurrently(plan, CONCURRENCY, async (e): Promise<PrunePlanSnapshot> => {
      const s = info.get(e.id)!;
      const base = { node: n, id: e.id, kind: s.kind, finishedAt: s.finishedAt, verified: s.verified };
      if (e.action === 'remove') {
        const lock = await snapshotLock(storage, s.keys, now);
        if (lock) return { ...base, action: 'locked', reasons: [...e.reasons, lock] };
      }
      return { ...base, action: e.action, reasons: e.reasons };
    });
    out.push(...entries);
  }
  return { location: storage.location, now: now.toISOString(), snapshots: out };
}

/**
 * Why one of the keys cannot be deleted yet (S3 Object Lock retention or legal hold), or
 * undefined. Must be asked before deleting: in a versioned (lockable) bucket a plain delete
 * "succeeds" by hiding the object behind a delete marker, which would hide the manifest of a
 * snapshot whose data stays locked. The answer names the latest date of all its objects.
 */
export async function snapshotLock(storage: Pick<Storage, 'objectLock'>, keys: string[], now: Date): Promise<string | undefined> {
  const locks = await mapConcurrently(keys, CONCURRENCY, async (key) => {
    try {
      return { key, lock: await storage.objectLock(key, now) };
    } catch (err) {
      // Gone since it was listed: nothing left to protect.
      if (err instanceof ObjectNotFoundError) return { key, lock: undefined };
      throw err;
    }
  });
  const held = locks.find((l) => l.lock?.legalHold);
  if (held) return `kept: ${held.key} is under an Object Lock legal hold`;
  const dated = locks.filter((l) => l.lock?.until !== undefined).sort((a, b) => b.lock!.until!.getTime() - a.lock!.until!.getTime())[0];
  if (!dated) return undefined;
  return `kept: object lock (${dated.lock!.mode ?? 'retention'}) until ${dated.lock!.until!.toISOString()}`;
}

/** Removes what the plan says to remove; never throws for one snapshot, reports it instead. */
export async function applyPrune(storage: Storage, plan: PrunePlan, options: { signal?: AbortSignal; now?: Date } = {}): Promise<PruneResult> {
  const result: PruneResult = { removed: [], locked: [], failed: [] };
  for (const s of plan.snapshots) {
    // Stop only between snapshots: each one is removed whole or not touched.
    options.signal?.throwIfAborted();
    if (s.action === 'locked') result.locked.push({ node: s.node, id: s.id, reasons: s.reasons });
    if (s.action !== 'remove') continue;
    try {
      const prefix = snapshotPrefix(s.node, s.id);
      // Asked again right before: a lock set since the plan must not leave half a snapshot.
      const keys: string[] = [];
      for await (const o of storage.list(prefix)) keys.push(o.key);
      const lock = await snapshotLock(storage, keys, options.now ?? new Date());
      if (lock) {
        result.locked.push({ node: s.node, id: s.id, reasons: [...s.reasons, lock] });
        continue;
      }
      // Manifest first: from here on the snapshot does not exist for list, restore or verify.
      // In a versioned bucket every version goes, so the space is freed (docs/retention.md).
      const objects = await storage.removePrefix(prefix, { first: manifestKey(s.node, s.id) });
      result.removed.push({ node: s.node, id: s.id, objects });
    } catch (err) {
      result.failed.push({ node: s.node, id: s.id, error: (err as Error).message });
    }
  }
  return result;
}
