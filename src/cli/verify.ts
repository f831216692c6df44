import { assertVerified, verify } from '../app/verify.js';
import { parseFlags } from './args.js';
import { COMMON_OPTIONS, formatBytes, openContext, type CliEnv } from './context.js';

export const usage = `Usage: ngcp-backup verify [ID | --latest] [--node NAME] [--json] [--config FILE]
Checks, without any key, that every object of a snapshot is in the repository with the size
and sha256 its manifest records. Exit 14 when anything is missing or differs.
  --node NAME   snapshots of another node`;

export async function run(env: CliEnv): Promise<number> {
  const { values, positionals } = parseFlags('verify', env.args, { ...COMMON_OPTIONS, latest: { type: 'boolean' }, node: { type: 'string' } }, 1);
  if (values.help) {
    env.stdout.write(usage + '\n');
    return 0;
  }
  const ctx = await openContext(env, values);
  const { manifest, result } = await verify(ctx, { id: positionals[0], latest: values.latest, node: values.node });
  const rate = result.seconds > 0 ? result.bytes / 1e6 / result.seconds : 0;
  if (values.json) {
    env.stdout.write(JSON.stringify({ id: manifest.id, ok: result.problems.length === 0, ...result, mbPerSecond: Math.round(rate) }) + '\n');
  } else if (result.problems.length === 0) {
    env.stdout.write(`snapshot ${manifest.id}: ${result.objects} objects, ${formatBytes(result.bytes)} verified in ${result.seconds.toFixed(1)} s (${rate.toFixed(0)} MB/s)\n`);
  }
  assertVerified(manifest, result);
  return 0;
}
