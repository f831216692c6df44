import { open } from 'node:fs/promises';
import { generateIdentity } from '../crypto/age.js';
import { KeyError, UsageError } from '../errors.js';
import { parseFlags } from './args.js';
import { COMMON_OPTIONS, type CliEnv } from './context.js';

export const usage = `Usage: ngcp-backup keygen --output FILE
Writes a new age identity (secret key) to FILE with mode 0600 (never overwriting a file) and
prints its recipient (public key) for encryption.recipients. Keep the identity OFF the node.`;

export async function run(env: CliEnv): Promise<number> {
  const { values } = parseFlags('keygen', env.args, { ...COMMON_OPTIONS, output: { type: 'string', short: 'o' } });
  if (values.help) {
    env.stdout.write(usage + '\n');
    return 0;
  }
  if (!values.output) throw new UsageError('ngcp-backup keygen: --output FILE is required');
  const { identity, recipient } = await generateIdentity();
  let file;
  try {
    file = await open(values.output, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new KeyError(code === 'EEXIST' ? `${values.output} already exists; not overwriting an identity` : `cannot create ${values.output} (${code})`);
  }
  try {
    await file.chmod(0o600);
    await file.writeFile(`# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`);
  } finally {
    await file.close();
  }
  env.stdout.write(recipient + '\n');
  return 0;
}
