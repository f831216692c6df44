import { UsageError } from '../errors.js';

/**
 * `--wait` (until the lock is free) and `--wait=SECONDS`, which parseArgs cannot express (a
 * string option needs a value): taken out of the arguments before they are parsed.
 */
export function takeWaitFlag(command: string, args: string[]): { args: string[]; wait: number | undefined } {
  let wait: number | undefined;
  const rest: string[] = [];
  for (const a of args) {
    if (a === '--wait') wait = Infinity;
    else if (a.startsWith('--wait=')) {
      const v = a.slice('--wait='.length);
      if (!/^\d+$/.test(v)) throw new UsageError(`ngcp-backup ${command}: --wait=SECONDS needs a whole number of seconds, got ${JSON.stringify(v)}`);
      wait = Number(v);
    } else rest.push(a);
  }
  return { args: rest, wait };
}

export const WAIT_USAGE = `  --wait[=SECONDS]   when another run holds the lock, wait for it (default: exit 11 at once)`;
