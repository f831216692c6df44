import { writeNewIdentity } from '../app/keygen.js';
import { UsageError } from '../errors.js';
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
  env.stdout.write((await writeNewIdentity(values.output)) + '\n');
  return 0;
}
