import { checkIdentityFileMode, readIdentities } from './age-keys.js';

/**
 * The one way a command loads the operator's age identity file: every identity in it, and a
 * warning (for the caller to show) when others than its owner can read it.
 */
export async function loadIdentityFile(file: string): Promise<{ identities: string[]; warning: string | undefined }> {
  const identities = await readIdentities(file);
  const { warning } = await checkIdentityFileMode(file);
  return { identities, warning };
}
