import { checkIdentityFileMode, readIdentities } from '../crypto/age.js';
import { UsageError } from '../errors.js';
import { readNodeName } from '../ngcp/facts.js';
import { readManifest, type Manifest } from '../format/manifest.js';
import { warn } from '../report/reporter.js';
import { openContext, type CliEnv, type CommandContext } from './context.js';
import { pickSnapshot } from './verify.js';

/**
 * What restore and drill start from: the config, the identities (a warning when others can
 * read the file), the repository checked, and the snapshot picked by id or --latest.
 */
export async function openSnapshotWithKey(
  env: CliEnv,
  command: string,
  values: { config?: string; json?: boolean; quiet?: boolean; identity?: string; node?: string; latest?: boolean },
  id: string | undefined,
): Promise<{ ctx: CommandContext; identities: string[]; manifest: Manifest }> {
  if (!values.identity) throw new UsageError(`ngcp-backup ${command}: --identity FILE is required (the age identity that decrypts the snapshot)`);
  const ctx = await openContext(env, values);
  const identities = await readIdentities(values.identity);
  const mode = await checkIdentityFileMode(values.identity);
  if (mode.warning) warn(ctx.reporter, mode.warning);
  await ctx.storage.check();
  const node = values.node ?? (await readNodeName(ctx.config.node.root, ctx.config.node.name));
  const ref = await pickSnapshot(ctx.storage, node, id, values.latest ?? false, command);
  return { ctx, identities, manifest: await readManifest(ctx.storage, ref.node, ref.id) };
}
