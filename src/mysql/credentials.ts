import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { registerSecret } from '../report/secrets.js';

/** How to reach MariaDB. The password never leaves this process (no argv, no logs). */
export interface MysqlTarget {
  socket?: string;
  host?: string;
  port?: number;
  user: string;
  password?: string;
  /** For messages: where we connect, with no credential in it. */
  describe: string;
}

/** Parses the [client] (and [mysql]/[mysqldump] fall-back) section of a MySQL option file. */
export function parseOptionFile(text: string): Record<string, string> {
  const sections: Record<string, Record<string, string>> = {};
  let current = '';
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[([^\]]+)\]$/.exec(line);
    if (section) {
      current = section[1]!.trim().toLowerCase();
      continue;
    }
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim().toLowerCase().replace(/-/g, '_');
    let value = eq < 0 ? '' : line.slice(eq + 1).trim();
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) value = value.slice(1, -1);
    (sections[current] ??= {})[key] = value;
  }
  return { ...sections['mysql'], ...sections['client'] };
}

export function nodePath(root: string, nodeAbsolutePath: string): string {
  return path.join(root, nodeAbsolutePath);
}

export async function resolveMysqlTarget(config: Config): Promise<MysqlTarget> {
  const m = config.mysql;
  let fromFile: Record<string, string> = {};
  if (m.defaultsFile) {
    const file = nodePath(config.node.root, m.defaultsFile);
    try {
      fromFile = parseOptionFile(await readFile(file, 'utf8'));
    } catch (error) {
      throw new ConfigError(`mysql.defaults_file ${file} cannot be read (${(error as NodeJS.ErrnoException).code})`);
    }
  }
  let password = fromFile['password'];
  if (m.passwordFile) {
    try {
      password = (await readFile(m.passwordFile, 'utf8')).replace(/\r?\n$/, '');
    } catch (error) {
      throw new ConfigError(`mysql.password_file ${m.passwordFile} cannot be read (${(error as NodeJS.ErrnoException).code})`);
    }
  }
  registerSecret(password);
  const user = m.user ?? fromFile['user'] ?? 'root';
  // An explicit host in the config wins; else the config's socket; else the option file's.
  const host = m.host ?? (m.socket ? undefined : fromFile['host']);
  const socket = host ? undefined : (m.socket ?? fromFile['socket']);
  const port = m.host ? m.port : fromFile['port'] ? Number(fromFile['port']) : m.port;
  return {
    socket,
    host,
    port,
    user,
    password: password || undefined,
    describe: socket ? `MariaDB at socket ${socket} as ${user}` : `MariaDB at ${host}:${port} as ${user}`,
  };
}
