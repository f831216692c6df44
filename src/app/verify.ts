import type { Manifest } from '../format/manifest.js';
import { assertVerified, verifySnapshot, type VerifyResult } from '../repository/verify.js';
import { ownNode, type AppContext } from './context.js';
import { openSnapshot, type SnapshotChoice } from './select-snapshot.js';

/** `ngcp-backup verify`: every object of a snapshot against its manifest, with no key. */
export async function verify(ctx: AppContext, choice: SnapshotChoice & { node?: string }): Promise<{ manifest: Manifest; result: VerifyResult }> {
  const node = choice.node ?? (await ownNode(ctx.config));
  const manifest = await openSnapshot(ctx.storage, node, choice, 'verify');
  const progress = ctx.progress({ label: 'verify' });
  const result = await verifySnapshot(ctx.storage, manifest, { signal: ctx.signal, progress }).finally(() => progress.end());
  return { manifest, result };
}

/** Exit 14 (IntegrityError) when anything is missing or differs. */
export { assertVerified };
