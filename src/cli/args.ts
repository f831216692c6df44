import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

/** parseArgs with our error: an unknown flag or a missing value is a UsageError (exit 2). */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(command: string, args: string[], options: T, maxPositionals = 0) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    const missing = flagWithoutValue(error, options);
    if (missing) throw new UsageError(`ngcp-backup ${command}: ${missing} needs a value (see ngcp-backup ${command} --help)`);
    throw new UsageError(`ngcp-backup ${command}: ${(error as Error).message.split('\n')[0]} (see ngcp-backup ${command} --help)`);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`ngcp-backup ${command}: unexpected argument ${JSON.stringify(parsed.positionals[maxPositionals])}`);
  }
  return parsed;
}

/**
 * The flag given without its value (`--identity --yes`, or `--identity` last), by its long name;
 * parseArgs calls the first "ambiguous" and the second "missing".
 */
function flagWithoutValue(error: unknown, options: NonNullable<ParseArgsConfig['options']>): string | undefined {
  if ((error as NodeJS.ErrnoException).code !== 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return undefined;
  const m = /^Option '(?:-\w, )?(--?[\w-]+)(?: <value>)?' argument (?:is ambiguous|missing)/.exec((error as Error).message);
  if (!m) return undefined;
  const flag = m[1]!;
  if (flag.startsWith('--')) return flag;
  const long = Object.entries(options).find(([, o]) => o.short === flag.slice(1))?.[0];
  return long ? `--${long}` : flag;
}
