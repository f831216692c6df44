import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The layout's rule (README, "Development"): imports run one way, from the commands down to the
 * infrastructure. A folder may import its own modules and those of folders of a lower rank,
 * never of its own rank or above; so there are no cycles between folders.
 */
const RANKS: Record<string, number> = {
  'errors.ts': 0, 'version.ts': 0,
  util: 1,
  stream: 2, crypto: 2, report: 2,
  format: 3,
  schedule: 4,
  config: 5,
  repository: 6, mysql: 6,
  ngcp: 7,
  dump: 8, load: 8, cdr: 8, retention: 8, restore: 8,
  service: 9,
  app: 10,
  daemon: 11,
  cli: 12,
};

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

const folderOf = (file: string): string => path.relative(SRC, file).split(path.sep)[0]!;
const imports = (file: string): string[] => [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);

test('every folder of src/ has a rank', (t) => {
  const unknown = [...new Set(sources(SRC).map(folderOf))].filter((f) => RANKS[f] === undefined);
  t.deepEqual(unknown, [], 'give a new folder its rank here and in the README');
});

test('imports run one way: never to a folder of the same or a higher rank, never out of src/', (t) => {
  const wrong: string[] = [];
  for (const file of sources(SRC)) {
    const from = folderOf(file);
    for (const spec of imports(file)) {
      if (!spec.startsWith('.')) continue;
      const target = path.resolve(path.dirname(file), spec);
      if (!target.startsWith(SRC)) {
        wrong.push(`${path.relative(SRC, file)} imports ${spec}, outside src/`);
        continue;
      }
      const to = folderOf(target.replace(/\.js$/, '.ts'));
      if (to !== from && RANKS[to]! >= RANKS[from]!) wrong.push(`${path.relative(SRC, file)} (${from}, rank ${RANKS[from]}) imports ${spec} (${to}, rank ${RANKS[to]})`);
    }
  }
  t.deepEqual(wrong, []);
});

test('only mysql/connection.ts touches mysql2', (t) => {
  const users = sources(SRC).filter((f) => imports(f).some((s) => s === 'mysql2' || s.startsWith('mysql2/'))).map((f) => path.relative(SRC, f));
  t.deepEqual(users, ['mysql/connection.ts']);
});
