import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode } from '../../src/errors.js';
import { generateIdentity } from '../../src/crypto/age.js';
import type { Manifest } from '../../src/format/manifest.js';
import { sandboxService } from '../../testkit/node.js';
import { databaseChecksums } from '../helpers/db-state.js';
import { ngcpcfgStandIn, type NgcpcfgStandIn } from '../helpers/ngcpcfg.js';
import { CLI, readJson, runCommand, startTestNode, type TestNode } from '../helpers/node.js';

// Everything a restore checks before it touches the target, and what --dry-run proves without
// touching it: the identity first (from the small details object), the manifest against the
// details, what each object holds against its entry, the work directory's space.
let source: TestNode;
let target: TestNode;
let ngcpcfg: NgcpcfgStandIn;
let snapshotId: string;

test.before(async () => {
  [source, target] = await Promise.all([startTestNode({ cdrRows: 3000 }), startTestNode({ cdrRows: 10, secrets: { constants: 'fresh-install', debianCnf: 'fresh-install' } })]);
  const b = await source.cli(['backup', '--kind', 'nightly', '--json']);
  if (b.code !== 0) throw new Error(b.stderr);
  snapshotId = (JSON.parse(b.stdout) as { id: string }).id;
  ngcpcfg = await ngcpcfgStandIn(path.join(target.dir, 'ngcpcfg'), { file: path.join(target.root, 'etc/ngcp-config/constants.yml'), socket: target.server.socket });
});
test.after.always(async () => Promise.all([source?.stop(), target?.stop()]));

function targetConfig(repo: string, workDir = path.join(target.dir, 'work')): Promise<string> {
  return target.writeConfig(
    {
      node: { root: target.root },
      mysql: { socket: target.server.socket, defaults_file: '/etc/mysql/debian.cnf' },
      repository: { url: `file://${repo}` },
      encryption: { recipients: [source.recipient] },
      restore: { work_dir: workDir },
      service: sandboxService(target.root),
    },
    `target-${Math.random().toString(36).slice(2)}.yml`,
  );
}

/** Checksums of the target's databases and its node files: what a refused restore must leave as it was. */
async function targetState(): Promise<string> {
  const h = createHash('sha256').update(JSON.stringify(await databaseChecksums(target.server.socket)));
  for (const rel of ['etc/ngcp-config/constants.yml', 'etc/ngcp-config/network.yml', 'etc/mysql/debian.cnf']) h.update(await readFile(path.join(target.root, rel)));
  return h.digest('hex');
}

/** A copy of the source's repository, changed by `tamper`. */
async function tamperedRepo(name: string, tamper: (snap: string, manifest: Manifest) => Promise<Manifest | void>): Promise<string> {
  const repo = path.join(target.dir, name);
  await cp(source.repoDir, repo, { recursive: true });
  const snap = path.join(repo, 'snapshots/spce', snapshotId);
  const manifest = await readJson<Manifest>(path.join(snap, 'manifest.json'));
  const changed = await tamper(snap, manifest);
  if (changed) await writeFile(path.join(snap, 'manifest.json'), JSON.stringify(changed, null, 2) + '\n');
  return repo;
}

async function refusedUntouched(t: ExecutionContext, config: string, args: string[], code: number, message: RegExp): Promise<void> {
  const before = await targetState();
  const r = await target.cli(['restore', snapshotId, '--identity', source.identityFile, ...args], { config, env: ngcpcfg.env() });
  t.is(r.code, code, r.stderr);
  t.regex(r.stderr, message);
  t.notRegex(r.stderr, /taking a safety snapshot|node files restored/, 'refused before the safety snapshot');
  t.is(await targetState(), before, "the target's databases and files are unchanged");
  t.deepEqual(await ngcpcfg.calls(), [], 'apply never ran');
}

test.serial('two data objects swapped together with their manifest entries: refused before the target changes, dry run too', async (t) => {
  const repo = await tamperedRepo('repo-swapped', async (snap, m) => {
    const a = m.objects.find((o) => o.role === 'data' && o.database === 'accounting' && o.table === 'cdr')!;
    const b = m.objects.find((o) => o.role === 'data' && o.database === 'accounting' && o.table === 'cdr_202404')!;
    const [bytesA, bytesB] = await Promise.all([readFile(path.join(snap, a.name)), readFile(path.join(snap, b.name))]);
    await writeFile(path.join(snap, a.name), bytesB);
    await writeFile(path.join(snap, b.name), bytesA);
    // The entries follow their bytes: `verify` sees nothing wrong.
    const figures = (o: typeof a) => ({ size: o.size, sha256: o.sha256, rawSize: o.rawSize });
    const [fa, fb] = [figures(a), figures(b)];
    return { ...m, objects: m.objects.map((o) => (o === a ? { ...o, ...fb } : o === b ? { ...o, ...fa } : o)) };
  });
  const config = await targetConfig(repo);
  t.is((await target.cli(['verify', snapshotId], { config })).code, 0, 'verify (no key) cannot tell');
  const message = /holds the rows of table accounting\.cdr(_202404)?, but its manifest entry names table accounting\.cdr.*refused before anything was changed/;
  await refusedUntouched(t, config, ['--dry-run'], ExitCode.integrity, message);
  await refusedUntouched(t, config, ['--yes'], ExitCode.integrity, message);
});

test.serial("a data object's manifest entry removed: refused before any download, naming the table", async (t) => {
  const repo = await tamperedRepo('repo-entry-removed', async (_snap, m) => ({ ...m, objects: m.objects.filter((o) => !(o.role === 'data' && o.table === 'cdr_202404')) }));
  const config = await targetConfig(repo);
  const message = /no data object db\/accounting\/cdr_202404\.0001\.sql\.zst\.age for table accounting\.cdr_202404 \(the details list \d+ rows for it\)/;
  await refusedUntouched(t, config, ['--dry-run'], ExitCode.integrity, message);
  await refusedUntouched(t, config, ['--yes'], ExitCode.integrity, message);
});

test.serial('--dry-run with a wrong identity: exit 12 from the details object, no data object read', async (t) => {
  // With the cdr data object gone, reading it would be exit 14: 12 shows the key was tried first.
  const repo = await tamperedRepo('repo-wrong-key', async (snap, m) => {
    await rm(path.join(snap, m.objects.find((o) => o.role === 'data' && o.table === 'cdr')!.name));
  });
  const other = path.join(target.dir, 'other-identity.txt');
  await writeFile(other, (await generateIdentity()).identity + '\n', { mode: 0o600 });
  const before = await targetState();
  const r = await target.cli(['restore', snapshotId, '--identity', other, '--dry-run'], { config: await targetConfig(repo) });
  t.is(r.code, ExitCode.key, r.stderr);
  t.regex(r.stderr, /details\.json\.age: no identity matches/);
  t.notRegex(r.stderr + r.stdout, /missing|downloaded|intact/);
  t.is(await targetState(), before);
});

test.serial('--dry-run proves integrity: one flipped byte is exit 14, naming the object', async (t) => {
  let victim = '';
  const repo = await tamperedRepo('repo-flipped', async (snap, m) => {
    victim = m.objects.find((o) => o.role === 'data' && o.table === 'cdr')!.name;
    const bytes = await readFile(path.join(snap, victim));
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await writeFile(path.join(snap, victim), bytes);
  });
  const r = await target.cli(['restore', snapshotId, '--identity', source.identityFile, '--dry-run'], { config: await targetConfig(repo) });
  t.is(r.code, ExitCode.integrity, r.stderr);
  t.regex(r.stderr, new RegExp(`${victim.replace(/\./g, '\\.')} of snapshot \\S+ is damaged: sha256`));
});

test.serial('--dry-run prints the plan (target server, what is replaced) and proves the snapshot without the work directory', async (t) => {
  const work = path.join(target.dir, 'dry-work');
  const r = await target.cli(['restore', snapshotId, '--identity', source.identityFile, '--dry-run'], { config: await targetConfig(source.repoDir, work) });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`target: node root ${target.root}; MariaDB at socket ${target.server.socket} as `));
  t.regex(r.stdout, /replace the node files: \/etc\/ngcp-config swapped in whole with \.git \(\d+ entries; network\.yml KEPT as this node has it/);
  t.regex(r.stdout, /drop and reload databases: .*accounting/);
  t.regex(r.stdout, /replace accounts and grants \(CREATE OR REPLACE USER\): \d+ account\(s\)/);
  t.regex(r.stdout, /dry run: nothing was changed; the identity decrypts the snapshot, and its \d+ objects are intact/);
  t.deepEqual(await readdir(work).catch(() => []), [], 'a dry run keeps nothing in the work directory');
});

test.serial('restore --dry-run | head -1: no EPIPE stack trace, exits 0', async (t) => {
  const config = await targetConfig(source.repoDir);
  const r = await runCommand('bash', ['-c', `"$0" "$1" restore ${snapshotId} --identity "$2" --dry-run --config "$3" | head -1; exit "\${PIPESTATUS[0]}"`, process.execPath, CLI, source.identityFile, config], process.env);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^restore plan for snapshot \S+ .*\n$/);
  t.notRegex(r.stderr, /EPIPE|Error:|\n\s+at /);
});

test.serial('a flag without its value: "--identity needs a value" (exit 2)', async (t) => {
  const r = await target.cli(['restore', snapshotId, '--identity', '--dry-run'], { config: await targetConfig(source.repoDir) });
  t.is(r.code, ExitCode.usage, r.stderr);
  t.regex(r.stderr, /^ngcp-backup restore: --identity needs a value/m);
});

test.serial('a work directory that fills during the download: exit 7 naming it, the partial download removed, the target untouched', async (t) => {
  // A tmpfs of its own (a private mount namespace) with room for the bytes but few inodes: the
  // space check passes and the download runs out of room part-way, an ENOSPC like a full disk's.
  const work = path.join(target.dir, 'tiny-work');
  await mkdir(work, { recursive: true });
  const config = await targetConfig(source.repoDir, work);
  const before = await targetState();
  const script = 'mount -t tmpfs -o size=512m,nr_inodes=12,mode=0700 tmpfs "$0" || exit 99; "$@"; rc=$?; echo "left: $(ls -A "$0" | tr "\\n" " ")"; exit $rc';
  const r = await runCommand('unshare', ['-m', 'sh', '-c', script, work, process.execPath, CLI, 'restore', snapshotId, '--identity', source.identityFile, '--yes', '--config', config], ngcpcfg.env(process.env));
  if (r.code === 99) return t.log(`no tmpfs could be mounted here: ${r.stderr}`), t.fail(r.stderr);
  t.is(r.code, ExitCode.diskFull, r.stderr);
  t.regex(r.stderr, new RegExp(`no space left in the work directory ${work} \\(restore\\.work_dir\\) while downloading ${work}/ngcp-backup-restore-`));
  t.regex(r.stdout, /left: *$/m, 'the partial download was removed');
  t.is(await targetState(), before);
  t.deepEqual(await ngcpcfg.calls(), []);
});

test.serial('network.yml is kept from the target; --restore-network takes the snapshot\'s', async (t) => {
  const file = path.join(target.root, 'etc/ngcp-config/network.yml');
  const own = (await readFile(file, 'utf8')) + '# this machine: eth7 192.0.2.77\n';
  await writeFile(file, own);
  const sourceNetwork = await readFile(path.join(source.root, 'etc/ngcp-config/network.yml'), 'utf8');
  const config = await targetConfig(source.repoDir);
  const args = ['restore', snapshotId, '--identity', source.identityFile, '--yes', '--only', 'files', '--no-safety-snapshot'];
  const kept = await target.cli(args, { config, env: ngcpcfg.env() });
  t.is(kept.code, 0, kept.stderr);
  t.regex(kept.stdout, /network\.yml KEPT as this node has it/);
  t.regex(kept.stdout, /files restored: +\d+ \(kept as this node had them: \/etc\/ngcp-config\/network\.yml\)/);
  t.is(await readFile(file, 'utf8'), own);
  t.is(await readFile(path.join(target.root, 'etc/ngcp-config/constants.yml'), 'utf8'), await readFile(path.join(source.root, 'etc/ngcp-config/constants.yml'), 'utf8'), 'the other files are the snapshot\'s');
  const replaced = await target.cli([...args, '--restore-network'], { config, env: ngcpcfg.env() });
  t.is(replaced.code, 0, replaced.stderr);
  t.regex(replaced.stdout, /network\.yml REPLACED by the snapshot's \(--restore-network\)/);
  t.is(await readFile(file, 'utf8'), sourceNetwork);
});
