import type { CdrShipResult } from '../../cdr/ship.js';
import { formatSize as formatBytes } from '../../report/progress.js';

/** `ngcp-backup cdr ship` as text: what was shipped, skipped, damaged, changed, and the policy. */
export function formatCdrShip(result: CdrShipResult, exportDir: string): string {
  const verb = result.dryRun ? 'would ship' : 'shipped';
  const lines = [
    `${result.files} files in ${exportDir}: ${verb} ${result.shipped.length} (${formatBytes(result.bytes)}), ${result.alreadyShipped} already shipped, ${result.inProgress.length} being written (skipped)`,
    ...result.damaged.map((p) => `  damaged (MD5 trailer does not match), ${result.dryRun ? 'would be shipped' : 'shipped'} aside, kept: ${p}`),
    ...(result.damagedKnown.length ? [`  ${result.damagedKnown.length} damaged files shipped aside earlier are still in the tree (never removed)`] : []),
    ...result.changed.map((p) => `  changed after shipping, not shipped again: ${p}`),
    ...(result.policy
      ? [`  policy: ${result.policy.removedLocal.length} local files ${result.dryRun ? 'would be ' : ''}removed after verification, ${result.policy.keptUnverified.length} kept (not verified), ${result.policy.pruned.length} past retention ${result.dryRun ? 'would be ' : ''}removed from the repository`]
      : []),
    ...(result.dryRun ? ['dry run: nothing was changed'] : []),
  ];
  return lines.join('\n') + '\n';
}
