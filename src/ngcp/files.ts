import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { NodeDataError } from '../errors.js';
import type { NodeFileEntry } from '../format/files-index.js';
import { certificatePaths } from './certs.js';

export const SEED_FILES = ['/etc/ngcp-config/config.yml', '/etc/ngcp-config/constants.yml', '/etc/mysql/debian.cnf'];
/** Legacy nodes have sipwise.cnf, newer ones sipwise_extra.cnf: one of them must be there. */
export const SIPWISE_CNF = ['/etc/mysql/sipwise.cnf', '/etc/mysql/sipwise_extra.cnf'];
export const OPTIONAL_FILES = [
  '/etc/mysql/sipwise.cnf',
  '/etc/mysql/sipwise_extra.cnf',
  '/etc/mysql/grants.yml',
  '/etc/ngcp_version',
  '/etc/ngcp_nodename',
  '/etc/default/ngcp-roles',
  '/etc/default/ngcp-db',
];
export const CONFIG_DIR = '/etc/ngcp-config';

export interface FilesPlan {
  entries: NodeFileEntry[];
  warnings: string[];
}

/**
 * Lists what the files artifact holds: the seed files (required), the whole /etc/ngcp-config
 * (with .git and templates), every certificate config.yml points at, the optional NGCP files
 * and the configured extra paths. Fails, naming the file, when a required one is missing.
 */
export async function planNodeFiles(root: string, extraPaths: string[]): Promise<FilesPlan> {
  const warnings: string[] = [];
  const missing: string[] = [];
  for (const file of SEED_FILES) {
    if (!(await isFile(root, file))) missing.push(file);
  }
  const sipwise = await Promise.all(SIPWISE_CNF.map((f) => isFile(root, f)));
  if (!sipwise.some(Boolean)) missing.push(SIPWISE_CNF.join(' or '));
  if (missing.length > 0) {
    throw new NodeDataError(`required node file missing: ${missing.map((m) => path.join(root, m)).join(', ')}`);
  }

  const configYml = await readFile(path.join(root, SEED_FILES[0]!), 'utf8');
  let certs: string[] = [];
  try {
    certs = certificatePaths(configYml);
  } catch (error) {
    throw new NodeDataError(`${path.join(root, SEED_FILES[0]!)} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }

  const names = await ownerNames();
  const seen = new Map<string, NodeFileEntry>();
  const add = async (nodePath: string, recurse: boolean, required: boolean): Promise<void> => {
    if (seen.has(nodePath)) return;
    let st;
    try {
      st = await lstat(path.join(root, nodePath));
    } catch {
      if (required) warnings.push(`${nodePath} is referenced but missing; it is not in the backup`);
      return;
    }
    // Parent directories come first so that a restore can recreate them with their modes.
    const parent = path.dirname(nodePath);
    if (parent !== '/' && !seen.has(parent)) await add(parent, false, false);
    const type = st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : undefined;
    if (!type) {
      warnings.push(`${nodePath} is not a regular file, directory or symlink; skipped`);
      return;
    }
    seen.set(nodePath, {
      path: nodePath,
      type,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      user: names.users.get(st.uid) ?? String(st.uid),
      group: names.groups.get(st.gid) ?? String(st.gid),
      size: type === 'file' ? st.size : 0,
      mtime: st.mtime.toISOString(),
    });
    if (type === 'directory' && recurse) {
      const children = (await readdir(path.join(root, nodePath))).sort();
      for (const child of children) await add(path.posix.join(nodePath, child), true, false);
    }
  };

  await add(CONFIG_DIR, true, true);
  for (const file of [...SEED_FILES, ...OPTIONAL_FILES]) await add(file, false, false);
  for (const cert of certs) await add(cert, false, true);
  for (const extra of extraPaths) await add(extra, true, true);
  return { entries: [...seen.values()], warnings };
}

async function isFile(root: string, nodePath: string): Promise<boolean> {
  try {
    return (await lstat(path.join(root, nodePath))).isFile();
  } catch {
    return false;
  }
}

/** uid/gid -> name from the system's account databases (the ids on disk are this host's). */
export async function ownerNames(): Promise<{ users: Map<number, string>; groups: Map<number, string> }> {
  const parse = async (file: string): Promise<Map<number, string>> => {
    const map = new Map<number, string>();
    try {
      for (const line of (await readFile(file, 'utf8')).split('\n')) {
        const [name, , id] = line.split(':');
        if (name && id && !map.has(Number(id))) map.set(Number(id), name);
      }
    } catch {
      // No account database: numeric ids only.
    }
    return map;
  };
  return { users: await parse('/etc/passwd'), groups: await parse('/etc/group') };
}
