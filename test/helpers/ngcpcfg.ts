import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The one stand-in the tests use: `ngcpcfg` exists only on a Sipwise node. This one records
 * each call (its arguments, and the state it found: a file's sha256 and a table's row count,
 * which show that files and databases were restored before it ran) and exits with the code
 * in its `exit-code` file.
 */
export interface NgcpcfgStandIn {
  dir: string;
  env: (base?: NodeJS.ProcessEnv) => NodeJS.ProcessEnv;
  calls: () => Promise<Array<{ args: string[]; fileSha256: string; cdrRows: string }>>;
  fail: (code: number) => Promise<void>;
}

export async function ngcpcfgStandIn(dir: string, watch: { file: string; socket: string }): Promise<NgcpcfgStandIn> {
  const bin = path.join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  const log = path.join(dir, 'calls.jsonl');
  const exitFile = path.join(dir, 'exit-code');
  await rm(log, { force: true });
  await writeFile(exitFile, '0\n');
  const script = `#!/bin/bash
sha=$(sha256sum ${JSON.stringify(watch.file)} 2>/dev/null | cut -d' ' -f1)
rows=$(mariadb -uroot --socket=${JSON.stringify(watch.socket)} -N -e 'SELECT COUNT(*) FROM accounting.cdr' 2>/dev/null)
args=$(printf '%s\\n' "$@" | sed 's/\\\\/\\\\\\\\/g; s/"/\\\\"/g' | awk 'BEGIN{ORS=""; print "["} NR>1{print ","} {print "\\"" $0 "\\""} END{print "]"}')
echo "{\\"args\\":$args,\\"fileSha256\\":\\"$sha\\",\\"cdrRows\\":\\"$rows\\"}" >> ${JSON.stringify(log)}
echo "ngcpcfg stand-in: building configuration"
code=$(cat ${JSON.stringify(exitFile)})
if [ "$code" != 0 ]; then echo "ngcpcfg stand-in: template error in /etc/ngcp-config/templates/x.tt2" >&2; fi
exit "$code"
`;
  await writeFile(path.join(bin, 'ngcpcfg'), script);
  await chmod(path.join(bin, 'ngcpcfg'), 0o755);
  return {
    dir,
    env: (base = {}) => ({ ...base, PATH: `${bin}:${process.env['PATH']}` }),
    calls: async () => {
      const text = await readFile(log, 'utf8').catch(() => '');
      return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },
    fail: (code) => writeFile(exitFile, `${code}\n`),
  };
}
