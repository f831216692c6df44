import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { packageOf, ToolMissingError } from '../errors.js';

/** The full path of a program on PATH (or the path given), or undefined when there is none. */
export async function findProgram(program: string): Promise<string | undefined> {
  const candidates = program.includes('/') ? [program] : (process.env['PATH'] ?? '/usr/bin:/bin').split(':').filter(Boolean).map((d) => path.join(d, program));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return undefined;
}

/** Throws a ToolMissingError naming the program and its Debian package unless it is installed. */
export async function requireTool(program: string, pkg = packageOf(program), why?: string): Promise<void> {
  if ((await findProgram(program)) === undefined) {
    throw new ToolMissingError(`${program} is not installed (or not on PATH)${why ? `, and ${why}` : ''}: install the Debian package ${pkg}`);
  }
}
