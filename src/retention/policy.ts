import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';

/**
 * Retention policies and the pure planner that applies them (restic's ApplyPolicy, per kind):
 * a snapshot is kept when any rule of its kind's policy keeps it, and every kept snapshot says
 * why. Time buckets are UTC; `keep-within` counts back from `now`.
 */

/** `keep-within`: a calendar span, subtracted field by field like restic's Duration. */
export interface Span {
  years: number;
  months: number;
  days: number;
  hours: number;
  /** As written in the policy file, for reasons (e.g. "90d"). */
  text: string;
}

export interface KindPolicy {
  last?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  within?: Span;
}

export interface Policies {
  /** Where they were loaded from, for messages. */
  source: string;
  kinds: Record<string, KindPolicy>;
}

export interface PlanInput {
  id: string;
  kind: string;
  /** ISO 8601 time the snapshot finished (its manifest's finishedAt). */
  finishedAt: string;
  /** A drill proved it restores. */
  verified?: boolean;
}

export interface PlanEntry {
  id: string;
  action: 'keep' | 'remove';
  reasons: string[];
}

/** The policies shipped with the package: policies/retention.yml next to dist/. */
export const DEFAULT_POLICIES_FILE: string = fileURLToPath(new URL('../../../policies/retention.yml', import.meta.url));

const RULE_KEYS = ['keep-last', 'keep-daily', 'keep-weekly', 'keep-monthly', 'keep-yearly', 'keep-within'] as const;

export async function loadPolicies(file: string = DEFAULT_POLICIES_FILE): Promise<Policies> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`cannot read retention policies ${file} (${code})`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  return parsePolicies(doc, file);
}

/** Validates a parsed policy document; every error names the file and the key. */
export function parsePolicies(doc: unknown, source: string): Policies {
  const fail = (key: string, what: string): never => {
    throw new ConfigError(`${source}: ${key} ${what}`);
  };
  if (!isMapping(doc)) fail('(top level)', 'must be a mapping with a "policies" key');
  const top = doc as Record<string, unknown>;
  for (const k of Object.keys(top)) if (k !== 'policies') fail(k, 'is not a known key (expected "policies")');
  if (!isMapping(top['policies'])) fail('policies', 'must be a mapping of snapshot kind to rules');
  const kinds: Record<string, KindPolicy> = {};
  for (const [kind, rules] of Object.entries(top['policies'] as Record<string, unknown>)) {
    const at = `policies.${kind}`;
    if (!/^[a-z][a-z0-9-]*$/.test(kind)) fail(at, 'is not a snapshot kind (lower-case letters, digits, "-")');
    if (!isMapping(rules)) fail(at, `must be a mapping of rules (${RULE_KEYS.join(', ')})`);
    const policy: KindPolicy = {};
    for (const [key, value] of Object.entries(rules as Record<string, unknown>)) {
      const where = `${at}.${key}`;
      switch (key) {
        case 'keep-last':
        case 'keep-daily':
        case 'keep-weekly':
        case 'keep-monthly':
        case 'keep-yearly':
          if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) fail(where, 'must be a whole number >= 0');
          policy[key.slice(5) as 'last' | 'daily' | 'weekly' | 'monthly' | 'yearly'] = value as number;
          break;
        case 'keep-within':
          policy.within = parseSpan(value) ?? fail(where, `must be a span in y, m, d, h, such as 90d, 1y6m or 36h; got ${JSON.stringify(value)}`);
          break;
        default:
          fail(where, `is not a known rule (expected one of ${RULE_KEYS.join(', ')})`);
      }
    }
    const keepsSomething = [policy.last, policy.daily, policy.weekly, policy.monthly, policy.yearly].some((n) => (n ?? 0) > 0) || policy.within !== undefined;
    if (!keepsSomething) fail(at, 'keeps nothing: give at least one keep- rule above 0 (remove the kind to never prune it)');
    kinds[kind] = policy;
  }
  return { source, kinds };
}

function isMapping(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseSpan(value: unknown): Span | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)d)?(?:(\d+)h)?$/.exec(value.trim());
  if (!m || value.trim() === '') return undefined;
  const span = { years: Number(m[1] ?? 0), months: Number(m[2] ?? 0), days: Number(m[3] ?? 0), hours: Number(m[4] ?? 0), text: value.trim() };
  return span.years + span.months + span.days + span.hours > 0 ? span : undefined;
}

/** now minus the span, in UTC calendar arithmetic (Go's AddDate, then hours). */
export function spanBefore(now: Date, span: Span): Date {
  const t = new Date(now.getTime());
  t.setUTCFullYear(t.getUTCFullYear() - span.years, t.getUTCMonth() - span.months, t.getUTCDate() - span.days);
  return new Date(t.getTime() - span.hours * 3_600_000);
}

/** Monday-based ISO 8601 week: YYYYWW of the week's Thursday. */
export function isoWeek(d: Date): number {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return t.getUTCFullYear() * 100 + week;
}

type Bucketer = (d: Date, nr: number) => number;
const BUCKETS: Array<{ rule: 'last' | 'daily' | 'weekly' | 'monthly' | 'yearly'; bucket: Bucketer; reason: string }> = [
  { rule: 'last', bucket: (_d, nr) => nr, reason: 'last snapshot' },
  { rule: 'daily', bucket: (d) => d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate(), reason: 'daily snapshot' },
  { rule: 'weekly', bucket: isoWeek, reason: 'weekly snapshot' },
  { rule: 'monthly', bucket: (d) => d.getUTCFullYear() * 100 + d.getUTCMonth() + 1, reason: 'monthly snapshot' },
  { rule: 'yearly', bucket: (d) => d.getUTCFullYear(), reason: 'yearly snapshot' },
];

export function describePolicy(kind: string, p: KindPolicy): string {
  const parts: string[] = [];
  for (const b of BUCKETS) {
    const n = p[b.rule];
    if (n) parts.push(b.rule === 'last' ? `the last ${n}` : `${n} ${b.rule}`);
  }
  if (p.within) parts.push(`everything within ${p.within.text}`);
  return `${kind} policy: keep ${parts.join(', ')}`;
}

function timeOf(s: PlanInput): number {
  const t = Date.parse(s.finishedAt);
  if (Number.isNaN(t)) throw new Error(`snapshot ${s.id} has no valid finishedAt (${JSON.stringify(s.finishedAt)})`);
  return t;
}

/** Newest first; equal times by id, so the plan never depends on input order. */
function newestFirst(a: PlanInput, b: PlanInput): number {
  return timeOf(b) - timeOf(a) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/**
 * The retention plan for one node's snapshots: pure, deterministic, oldest first.
 * Each kind is planned on its own with its policy (restic's semantics: per bucket, the newest
 * snapshot of each of the N newest buckets is kept; while a count is left, the oldest snapshot
 * of the kind is kept too, to keep the longest history). A kind without a policy is kept.
 * Whatever the policies say, the newest snapshot and the newest verified snapshot are kept.
 */
export function planRetention(snapshots: readonly PlanInput[], policies: Pick<Policies, 'kinds'>, now: Date): PlanEntry[] {
  const reasons = new Map<string, string[]>();
  const add = (id: string, r: string): void => {
    const list = reasons.get(id);
    if (list) list.push(r);
    else reasons.set(id, [r]);
  };

  const byKind = new Map<string, PlanInput[]>();
  for (const s of snapshots) {
    if (reasons.has(s.id) || byKind.get(s.kind)?.some((o) => o.id === s.id)) throw new Error(`snapshot ${s.id} appears twice`);
    const list = byKind.get(s.kind) ?? [];
    list.push(s);
    byKind.set(s.kind, list);
  }

  for (const [kind, list] of byKind) {
    const policy = Object.hasOwn(policies.kinds, kind) ? policies.kinds[kind] : undefined;
    if (!policy) {
      for (const s of list) add(s.id, `no policy for kind ${kind}: never pruned`);
      continue;
    }
    list.sort(newestFirst);
    const counts = BUCKETS.map((b) => policy[b.rule] ?? 0);
    const last = BUCKETS.map(() => -1);
    const cutoff = policy.within ? spanBefore(now, policy.within).getTime() : undefined;
    list.forEach((s, nr) => {
      const t = new Date(timeOf(s));
      if (cutoff !== undefined && t.getTime() > cutoff) add(s.id, `within ${policy.within!.text}`);
      BUCKETS.forEach((b, i) => {
        if (counts[i]! <= 0) return;
        const val = b.bucket(t, nr);
        const oldest = nr === list.length - 1;
        if (val !== last[i] || oldest) {
          add(s.id, val === last[i] ? `oldest ${b.reason}` : b.reason);
          last[i] = val;
          counts[i]!--;
        }
      });
    });
  }

  const all = [...snapshots].sort(newestFirst);
  if (all[0]) add(all[0].id, 'newest snapshot');
  const verified = all.find((s) => s.verified === true);
  if (verified) add(verified.id, 'newest verified snapshot');

  return all.reverse().map((s) => {
    const kept = reasons.get(s.id);
    if (kept) return { id: s.id, action: 'keep', reasons: kept };
    const policy = policies.kinds[s.kind]!;
    return { id: s.id, action: 'remove', reasons: [`not kept by the ${describePolicy(s.kind, policy)}`] };
  });
}
