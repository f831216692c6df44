import test from 'ava';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { ExitCode } from '../../src/errors.js';
import { createDecryptStream, createEncryptStream } from '../../src/crypto/age.js';
import type { Manifest } from '../../src/format/manifest.js';
import { readJson, startTestNode, type TestNode } from '../helpers/node.js';
import type { SnapshotDetails } from '../../src/format/details.js';

let node: TestNode;
let id: string;
test.before(async () => {
  node = await startTestNode({ cdrRows: 3000 });
  const r = await node.cli(['backup', '--json']);
  if (r.code !== 0) throw new Error(r.stderr);
  id = (JSON.parse(r.stdout) as { id: string }).id;
});
test.after.always(async () => node?.stop());

async function through(data: Buffer, stream: NodeJS.ReadWriteStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of Readable.from([data]).pipe(stream)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test.serial('a drill restores into a scratch MariaDB, passes, and list shows when the snapshot was proven', async (t) => {
  let list = await node.cli(['list', '--json']);
  t.is((JSON.parse(list.stdout) as Array<{ provenAt: string | null }>)[0]!.provenAt, null);
  const r = await node.cli(['drill', '--latest', '--identity', node.identityFile]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /PASSED .* \d+ tables match/);
  list = await node.cli(['list', '--json']);
  t.truthy((JSON.parse(list.stdout) as Array<{ provenAt: string | null }>)[0]!.provenAt);
  const text = await node.cli(['list']);
  t.regex(text.stdout, /PROVEN/);
});

test.serial('a drill catches figures that do not match the restored tables (exit 15)', async (t) => {
  const repo = path.join(node.dir, 'repo-tampered');
  await cp(node.repoDir, repo, { recursive: true });
  const snap = path.join(repo, 'snapshots/spce', id);
  await rm(path.join(snap, 'drills'), { recursive: true, force: true }); // the passing drill of the test before
  const manifestFile = path.join(snap, 'manifest.json');
  const manifest = await readJson<Manifest>(manifestFile);
  const detailsFile = path.join(snap, 'details.json.age');
  const details = JSON.parse((await through(await readFile(detailsFile), createDecryptStream([node.identity]))).toString()) as SnapshotDetails;
  const cdr = details.databases.find((d) => d.name === 'accounting')!.tables.find((x) => x.name === 'cdr')!;
  cdr.checksum = (BigInt(cdr.checksum!) + 1n).toString();
  const sealed = await through(Buffer.from(JSON.stringify(details)), createEncryptStream([node.recipient]));
  await writeFile(detailsFile, sealed);
  const entry = manifest.objects.find((o) => o.role === 'details')!;
  entry.size = sealed.length;
  entry.sha256 = createHash('sha256').update(sealed).digest('hex');
  await writeFile(manifestFile, JSON.stringify(manifest, null, 2));

  const config = await node.writeConfig({ ...node.baseConfig(), repository: { url: `file://${repo}` } }, 'tampered.yml');
  const r = await node.cli(['drill', id, '--identity', node.identityFile], { config });
  t.is(r.code, ExitCode.restoreVerification, r.stderr);
  t.regex(r.stderr, /drill of snapshot .* FAILED: accounting\.cdr/);
  const list = await node.cli(['list', '--json'], { config });
  t.is((JSON.parse(list.stdout) as Array<{ provenAt: string | null }>)[0]!.provenAt, null, 'a failed drill proves nothing');
});
