import { listWithProof } from '../app/list.js';
import { parseFlags } from './args.js';
import { COMMON_OPTIONS, openContext, type CliEnv } from './context.js';
import { formatSnapshotTable } from './format/list.js';

export const usage = `Usage: ngcp-backup list [--json] [--config FILE]
Lists the complete snapshots (those with a manifest) in the repository, oldest first.`;

export async function run(env: CliEnv): Promise<number> {
  const { values } = parseFlags('list', env.args, { ...COMMON_OPTIONS });
  if (values.help) {
    env.stdout.write(usage + '\n');
    return 0;
  }
  const { storage } = await openContext(env, values);
  const listed = await listWithProof(storage);
  if (values.json) {
    const rows = listed.map(({ manifest: m, provenAt }) => ({
      id: m.id,
      node: m.node,
      kind: m.kind,
      note: m.note,
      startedAt: m.startedAt,
      finishedAt: m.finishedAt,
      ngcpVersion: m.ngcpVersion,
      objects: m.objects.length,
      provenAt,
      ...m.summary,
    }));
    env.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    return 0;
  }
  if (listed.length === 0) {
    env.stdout.write(`no snapshots in ${storage.location}\n`);
    return 0;
  }
  env.stdout.write(formatSnapshotTable(listed));
  return 0;
}
