import { backup } from '../app/backup.js';
import { UsageError } from '../errors.js';
import { SNAPSHOT_KINDS, type SnapshotKind } from '../format/layout.js';
import { parseFlags } from './args.js';
import { COMMON_OPTIONS, formatBytes, openContext, type CliEnv } from './context.js';
import { takeWaitFlag, WAIT_USAGE } from './lock-flags.js';

export const usage = `Usage: ngcp-backup backup [--kind nightly|manual|pre-upgrade] [--note TEXT] [--wait[=SECONDS]] [--config FILE] [--json]
Takes a consistent snapshot of every database and the node's files, encrypts it for the
configured recipients and stores it in the repository. Prints a summary.
While a restore of this node is unfinished (ngcp-backup status says so) a backup refuses
(exit 16): roll back or restore first.
  --allow-half-restored   back up the half-restored node anyway, as kind half-restored
                          (never --latest, so never restored, verified or drilled as the
                          latest; the shipped retention policies never prune it)
${WAIT_USAGE}`;

export async function run(env: CliEnv): Promise<number> {
  const { args, wait } = takeWaitFlag('backup', env.args);
  const { values } = parseFlags('backup', args, { ...COMMON_OPTIONS, kind: { type: 'string' }, note: { type: 'string' }, 'allow-half-restored': { type: 'boolean' } });
  if (values.help) {
    env.stdout.write(usage + '\n');
    return 0;
  }
  const kind = (values.kind ?? 'manual') as SnapshotKind;
  if (!SNAPSHOT_KINDS.includes(kind) || kind === 'safety' || kind === 'half-restored') {
    throw new UsageError(`ngcp-backup backup: --kind must be nightly, manual or pre-upgrade, got ${JSON.stringify(values.kind)}`);
  }
  const ctx = await openContext(env, values);
  const { manifest, warnings } = await backup(ctx, { kind, note: values.note, lockWait: wait, allowHalfRestored: values['allow-half-restored'] });
  const s = manifest.summary;
  if (values.json) {
    // maxRSS is in KiB: the peak of this process (the zstd children are bounded by their own buffers).
    const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
    env.stdout.write(JSON.stringify({ id: manifest.id, node: manifest.node, kind: manifest.kind, summary: s, objects: manifest.objects.length, peakRssMiB, warnings }) + '\n');
  } else {
    env.stdout.write(
      [
        `snapshot ${manifest.id} (${manifest.kind}) of node ${manifest.node} stored in ${ctx.storage.location}`,
        `  databases: ${manifest.databases.length}, tables: ${s.tables}, rows: ${s.rows}`,
        `  objects:   ${manifest.objects.length}`,
        `  raw:       ${formatBytes(s.rawBytes)}, stored: ${formatBytes(s.storedBytes)} (compressed and encrypted)`,
        `  duration:  ${(s.durationMs / 1000).toFixed(1)} s, write lock held ${s.lockMs} ms`,
        ...warnings.map((w) => `  warning:   ${w}`),
      ].join('\n') + '\n',
    );
  }
  return 0;
}
