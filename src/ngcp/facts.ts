import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** The node's NGCP release (/etc/ngcp_version), or 'unknown' when the file is absent. */
export async function readNgcpVersion(root: string): Promise<string> {
  return (await readOptional(path.join(root, 'etc/ngcp_version')))?.trim() || 'unknown';
}

/** The node's name: config `node.name`, else /etc/ngcp_nodename, else 'spce' (CE's default). */
export async function readNodeName(root: string, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  const name = (await readOptional(path.join(root, 'etc/ngcp_nodename')))?.trim();
  return name && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) ? name : 'spce';
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}
