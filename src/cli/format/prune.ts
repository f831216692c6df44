import type { PrunePlan, PruneResult } from '../../retention/prune.js';

/** Every snapshot, keep or remove, and why; then the counts. */
export function formatPrunePlan(plan: PrunePlan, dryRun: boolean): string {
  if (plan.snapshots.length === 0) return `no snapshots in ${plan.location}\n`;
  const word = { keep: 'keep', remove: dryRun ? 'would remove' : 'remove', locked: 'locked' } as const;
  const lines = plan.snapshots.map((s) => `${word[s.action].padEnd(dryRun ? 12 : 6)}  ${s.node}  ${s.id}  ${s.reasons.join('; ')}`);
  const count = (a: string) => plan.snapshots.filter((s) => s.action === a).length;
  lines.push(`${count('keep')} kept, ${count('remove')} ${dryRun ? 'to remove (dry run: nothing changed)' : 'to remove'}, ${count('locked')} locked`);
  return lines.join('\n') + '\n';
}

/** What was removed, skipped as locked, or failed. */
export function formatPruneResult(result: PruneResult): string {
  const lines = result.removed.map((r) => `removed ${r.node}/${r.id} (${r.objects} objects)`);
  for (const l of result.locked) lines.push(`skipped, locked ${l.node}/${l.id}: ${l.reasons.at(-1)}`);
  for (const f of result.failed) lines.push(`FAILED ${f.node}/${f.id}: ${f.error}`);
  return lines.length ? lines.join('\n') + '\n' : '';
}
