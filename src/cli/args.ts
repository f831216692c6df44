import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

/** parseArgs with our error: an unknown flag or a missing value is a UsageError (exit 2). */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(command: string, args: string[], options: T, maxPositionals = 0) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`ngcp-backup ${command}: ${(error as Error).message.split('\n')[0]} (see ngcp-backup ${command} --help)`);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`ngcp-backup ${command}: unexpected argument ${JSON.stringify(parsed.positionals[maxPositionals])}`);
  }
  return parsed;
}
