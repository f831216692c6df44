import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { connect } from '../mysql/connection.js';
import type { MysqlTarget } from '../mysql/credentials.js';
import { registerSecret } from '../report/secrets.js';

export interface PostCheckResult {
  logins: Array<{ key: string; user: string; ok: boolean; error?: string }>;
  warnings: string[];
}

/**
 * After a full restore: each MySQL service user of the restored constants.yml
 * (credentials.mysql.<key>.{u,p}) must log in with its password; and the CDR exporter's
 * sequence (accounting.mark) must not be behind the newest exported CDR file, or the exporter
 * would reuse sequence numbers.
 */
export async function postChecks(root: string, target: MysqlTarget, cdrPath: string): Promise<PostCheckResult> {
  const constants = parseYaml(await readFile(path.join(root, 'etc/ngcp-config/constants.yml'), 'utf8')) as {
    credentials?: { mysql?: Record<string, { u?: string; p?: string }> };
  };
  const logins: PostCheckResult['logins'] = [];
  for (const [key, cred] of Object.entries(constants?.credentials?.mysql ?? {})) {
    if (!cred?.u || typeof cred.p !== 'string') continue;
    registerSecret(cred.p);
    try {
      const db = await connect({ ...target, user: cred.u, password: cred.p, describe: `MariaDB as ${cred.u}` });
      await db.close();
      logins.push({ key, user: cred.u, ok: true });
    } catch (error) {
      logins.push({ key, user: cred.u, ok: false, error: (error as Error).message });
    }
  }
  const warnings: string[] = [];
  const newest = await newestCdrSequence(path.join(root, cdrPath));
  if (newest !== null) {
    try {
      const db = await connect(target);
      const rows = await db.query<{ v: string }>("SELECT acc_id AS v FROM accounting.mark WHERE collector = 'exporter-lastseq'");
      await db.close();
      const seq = rows[0] ? Number(rows[0].v) : 0;
      if (seq < newest) {
        warnings.push(`the CDR exporter's sequence (accounting.mark exporter-lastseq = ${seq}) is behind the newest exported CDR file (sequence ${newest}): the exporter will export CDRs again and reuse sequence numbers; set it to ${newest} if the files were delivered`);
      }
    } catch {
      warnings.push('could not read accounting.mark to compare the CDR export sequence');
    }
  }
  return { logins, warnings };
}

/** The highest sequence number among system CDR export files (<prefix>_<ver>_<time>_<seq>.cdr). */
async function newestCdrSequence(dir: string): Promise<number | null> {
  let max: number | null = null;
  try {
    for (const e of await readdir(path.join(dir, 'system'), { recursive: true })) {
      const m = /_(\d{10})\.cdr$/.exec(String(e));
      if (m) max = Math.max(max ?? 0, Number(m[1]));
    }
  } catch {
    return null;
  }
  return max;
}
