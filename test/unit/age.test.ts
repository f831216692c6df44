/**
 * age interoperability and failure paths, against the real `age` CLI (Debian's age 1.1) and
 * age-encryption (JavaScript) as independent implementations.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Decrypter } from 'age-encryption';
import {
  checkIdentityFileMode,
  createDecryptStream,
  createEncryptStream,
  generateIdentity,
  parseRecipient,
  readIdentities,
} from '../../src/crypto/age.js';
import { IntegrityError, KeyError } from '../../src/errors.js';

interface Key { identity: string; recipient: string; file: string }

let dir = '';
let alice: Key; // made by us
let bob: Key; // made by us
let carol: Key; // made by age-keygen

interface Run { code: number | null; stdout: Buffer; stderr: string }

async function run(command: string, args: string[], input: Uint8Array = new Uint8Array(0)): Promise<Run> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.stdin.on('error', () => {});
  child.stdin.end(input);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  return { code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString() };
}

/** Feeds `data` in uneven pieces, so chunk boundaries never line up with the input's. */
function pieces(data: Uint8Array): Readable {
  return Readable.from((function* () {
    let offset = 0;
    const sizes = [1, 7, 1000, 65535, 65537, 100_000, 3];
    for (let i = 0; offset < data.length; i += 1) {
      const n = sizes[i % sizes.length]!;
      yield Buffer.from(data.subarray(offset, offset + n));
      offset += n;
    }
  })(), { objectMode: false });
}

function collect(into: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      into.push(chunk);
      callback();
    },
  });
}

async function encrypt(data: Uint8Array, recipients: string[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(pieces(data), createEncryptStream(recipients), collect(out));
  return Buffer.concat(out);
}

async function decrypt(data: Uint8Array, identities: string[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(pieces(data), createDecryptStream(identities), collect(out));
  return Buffer.concat(out);
}

async function keyFile(name: string, identity: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `# test identity\n${identity}\n`, { mode: 0o600 });
  return file;
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ngcp-backup-age-test-'));
  const a = await generateIdentity();
  alice = { ...a, file: await keyFile('alice.txt', a.identity) };
  const b = await generateIdentity();
  bob = { ...b, file: await keyFile('bob.txt', b.identity) };
  const generated = await run('age-keygen', ['-o', join(dir, 'carol.txt')]);
  if (generated.code !== 0) throw new Error(`age-keygen failed: ${generated.stderr}`);
  const [identity] = await readIdentities(join(dir, 'carol.txt'));
  const recipient = (await run('age-keygen', ['-y', join(dir, 'carol.txt')])).stdout.toString().trim();
  carol = { identity: identity!, recipient, file: join(dir, 'carol.txt') };
});

test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('generateIdentity makes an X25519 pair that age-keygen agrees with', async (t) => {
  t.regex(alice.identity, /^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
  t.regex(alice.recipient, /^age1[0-9a-z]{58}$/);
  const derived = await run('age-keygen', ['-y', alice.file]);
  t.is(derived.code, 0, derived.stderr);
  t.is(derived.stdout.toString().trim(), alice.recipient);
});

const sizes = [0, 1, 65535, 65536, 65537, 5 * 1024 * 1024];

for (const size of sizes) {
  test(`${size} bytes: ours -> age CLI and age-encryption; age CLI -> ours`, async (t) => {
    const plaintext = randomBytes(size);

    const ours = await encrypt(plaintext, [alice.recipient]);
    const byCli = await run('age', ['-d', '-i', alice.file], ours);
    t.is(byCli.code, 0, byCli.stderr);
    t.true(byCli.stdout.equals(plaintext), 'age -d gives the plaintext back');

    const decrypter = new Decrypter();
    decrypter.addIdentity(alice.identity);
    t.true(Buffer.from(await decrypter.decrypt(ours)).equals(plaintext), 'age-encryption gives the plaintext back');

    const theirs = await run('age', ['-r', carol.recipient], plaintext);
    t.is(theirs.code, 0, theirs.stderr);
    t.true((await decrypt(theirs.stdout, [carol.identity])).equals(plaintext), 'we decrypt what age -r wrote');

    t.true((await decrypt(ours, [alice.identity])).equals(plaintext), 'we decrypt what we wrote');
  });
}

test('multiple recipients: each identity decrypts, with age and with us', async (t) => {
  const plaintext = randomBytes(200_000);
  const ours = await encrypt(plaintext, [alice.recipient, bob.recipient, carol.recipient]);
  t.is(ours.toString('latin1').split('\n-> X25519 ').length - 1, 3, 'three X25519 stanzas');
  for (const key of [alice, bob, carol]) {
    const byCli = await run('age', ['-d', '-i', key.file], ours);
    t.is(byCli.code, 0, byCli.stderr);
    t.true(byCli.stdout.equals(plaintext));
    t.true((await decrypt(ours, [key.identity])).equals(plaintext));
  }

  const theirs = await run('age', ['-r', carol.recipient, '-r', bob.recipient, '-r', alice.recipient], plaintext);
  t.is(theirs.code, 0, theirs.stderr);
  t.true((await decrypt(theirs.stdout, [alice.identity])).equals(plaintext));
  // Several identities: the one that matches is found whatever its position.
  const wrong = (await generateIdentity()).identity;
  t.true((await decrypt(theirs.stdout, [wrong, bob.identity])).equals(plaintext));
});

test('an identity file with several identities, as age -i reads it', async (t) => {
  const file = join(dir, 'several.txt');
  await writeFile(file, `# created: today\n# public key: ${alice.recipient}\n${alice.identity}\n\n${bob.identity}\r\n`, { mode: 0o600 });
  const identities = await readIdentities(file);
  t.deepEqual(identities, [alice.identity, bob.identity]);
  const plaintext = randomBytes(1000);
  const ours = await encrypt(plaintext, [bob.recipient]);
  const byCli = await run('age', ['-d', '-i', file], ours);
  t.is(byCli.code, 0, byCli.stderr);
  t.true((await decrypt(ours, identities)).equals(plaintext));
});

test('wrong identity -> KeyError', async (t) => {
  const ours = await encrypt(randomBytes(100_000), [alice.recipient, bob.recipient]);
  const error = await t.throwsAsync(decrypt(ours, [carol.identity]), { instanceOf: KeyError });
  t.regex(error!.message, /^no identity matches/);
  t.false(error!.message.includes(carol.identity));
});

/** Every failure of a damaged file, by position: the error class and message. */
async function decryptError(data: Uint8Array): Promise<Error | undefined> {
  try {
    await decrypt(data, [alice.identity]);
    return undefined;
  } catch (error) {
    return error as Error;
  }
}

test('a flipped bit anywhere in the header -> IntegrityError (KeyError only inside a stanza)', async (t) => {
  const ours = await encrypt(randomBytes(3 * 65536 + 100), [alice.recipient]);
  const text = ours.toString('latin1');
  const stanzaStart = text.indexOf('\n-> ') + 1;
  const footer = text.indexOf('\n---') + 1;
  const headerEnd = text.indexOf('\n', footer) + 1;
  let keyErrors = 0;
  for (let i = 0; i < headerEnd + 16; i += 1) {
    for (const bit of [0x01, 0x20, 0x80]) {
      const damaged = Buffer.from(ours);
      damaged[i] ^= bit;
      const error = await decryptError(damaged);
      const where = `byte ${i} ^ 0x${bit.toString(16)}`;
      if (error instanceof KeyError) {
        // Damage to an X25519 share or body looks exactly like a file for someone else.
        t.true(i >= stanzaStart && i < footer, `${where}: KeyError outside a stanza: ${error.message}`);
        keyErrors += 1;
      } else {
        t.true(error instanceof IntegrityError, `${where}: ${String(error)}`);
      }
    }
  }
  t.log(`${headerEnd + 16} header+nonce bytes x 3 bit flips: ${keyErrors} gave KeyError (inside the stanza), the rest IntegrityError`);
});

test('a flipped byte in the payload (first, middle, last chunk, tag) -> IntegrityError', async (t) => {
  const ours = await encrypt(randomBytes(5 * 65536 + 1234), [alice.recipient]);
  const positions = {
    'first payload byte': ours.indexOf('\n---') + 1 + ours.subarray(ours.indexOf('\n---') + 1).indexOf(0x0a) + 1 + 16,
    'middle': Math.floor(ours.length / 2),
    'last chunk': ours.length - 500,
    'last tag byte': ours.length - 1,
  };
  for (const [name, position] of Object.entries(positions)) {
    const damaged = Buffer.from(ours);
    damaged[position] ^= 0xff;
    const error = await decryptError(damaged);
    t.true(error instanceof IntegrityError, `${name}: ${String(error)}`);
    t.regex(error!.message, /damaged|truncated/);
  }
});

test('truncation anywhere, or data appended -> IntegrityError', async (t) => {
  const ours = await encrypt(randomBytes(3 * 65536), [alice.recipient]);
  const headerEnd = ours.indexOf(0x0a, ours.indexOf('\n---') + 1) + 1;
  const cuts = {
    'empty': 0,
    'inside the intro': 10,
    'inside the header': headerEnd - 5,
    'right after the header': headerEnd,
    'inside the nonce': headerEnd + 8,
    'right after the nonce': headerEnd + 16,
    'inside the first chunk': headerEnd + 16 + 1000,
    'exactly one chunk missing': ours.length - 65536 - 16,
    'one byte short': ours.length - 1,
    'tag of the last chunk cut': ours.length - 10,
  };
  for (const [name, length] of Object.entries(cuts)) {
    const error = await decryptError(ours.subarray(0, length));
    t.true(error instanceof IntegrityError, `${name}: ${String(error)}`);
  }
  const appended = await decryptError(Buffer.concat([ours, Buffer.from('x')]));
  t.true(appended instanceof IntegrityError, `appended: ${String(appended)}`);
  const twice = await decryptError(Buffer.concat([ours, ours.subarray(headerEnd + 16)]));
  t.true(twice instanceof IntegrityError, `payload repeated: ${String(twice)}`);
});

test('not an age file -> IntegrityError naming it', async (t) => {
  const random = await decryptError(randomBytes(100_000));
  t.true(random instanceof IntegrityError);
  t.regex(random!.message, /not an age file/);
  const armored = await run('age', ['-a', '-r', alice.recipient], Buffer.from('hello'));
  const armoredError = await decryptError(armored.stdout);
  t.true(armoredError instanceof IntegrityError);
  t.regex(armoredError!.message, /armored/);
  const zstdLike = await decryptError(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0]));
  t.true(zstdLike instanceof IntegrityError);
});

test('parseRecipient: valid, and every kind of wrong with the setting named', (t) => {
  t.is(parseRecipient(alice.recipient, 'x').length, 32);
  t.is(parseRecipient(` ${carol.recipient}\n`, 'x').length, 32);
  const where = 'encryption.recipients[1]';
  const cases: Record<string, [string, RegExp]> = {
    empty: ['', /is empty/],
    blank: ['   ', /is empty/],
    garbage: ['hello world', /is not an age X25519 recipient/],
    'bad checksum': [`${alice.recipient.slice(0, -1)}${alice.recipient.endsWith('q') ? 'p' : 'q'}`, /is not an age X25519 recipient/],
    'post-quantum': [`age1pq1${'q'.repeat(100)}`, /post-quantum.*not an age X25519 recipient/],
    ssh: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk2gRvN2O1M9Ah+OU4qs0ZtAGk0NDO0K0E1pX8n6kAb user@host', /SSH public key, not an age X25519 recipient/],
    'ssh rsa': ['ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC', /SSH public key/],
    plugin: ['age1yubikey1qwt50d05nh5vutpdzmlg5wn80xq5negm4uj9ghv0snvdd3yysf5yw3rhl3t', /plugin recipients are not supported/],
  };
  for (const [name, [text, pattern]] of Object.entries(cases)) {
    const error = t.throws(() => parseRecipient(text, where), { instanceOf: KeyError }, name);
    t.true(error!.message.startsWith(where), `${name}: ${error!.message}`);
    t.regex(error!.message, pattern, name);
  }
});

test('parseRecipient never echoes a secret key', (t) => {
  for (const text of [alice.identity, alice.identity.toLowerCase(), `  ${alice.identity}`, alice.identity.replace('AGE-SECRET-KEY-1', 'AGE-SECRET-KEY-PQ-1')]) {
    const error = t.throws(() => parseRecipient(text, 'encryption.recipients[0]'), { instanceOf: KeyError });
    t.regex(error!.message, /is an identity \(secret key\), not a recipient/);
    t.false(error!.message.toUpperCase().includes(alice.identity.slice(16, 40)), 'no part of the key is echoed');
  }
});

test('createEncryptStream/createDecryptStream refuse bad keys up front, without echoing them', (t) => {
  t.throws(() => createEncryptStream([]), { instanceOf: KeyError, message: /no age recipient/ });
  const error = t.throws(() => createEncryptStream([alice.recipient, bob.identity]), { instanceOf: KeyError });
  t.regex(error!.message, /recipients\[1\] is an identity/);
  t.false(error!.message.includes(bob.identity));
  t.throws(() => createDecryptStream([]), { instanceOf: KeyError });
  const recipientAsIdentity = t.throws(() => createDecryptStream([alice.recipient]), { instanceOf: KeyError });
  t.regex(recipientAsIdentity!.message, /recipient \(public key\), not an identity/);
  const damaged = `${alice.identity.slice(0, -3)}QQQ`;
  const damagedError = t.throws(() => createDecryptStream([damaged]), { instanceOf: KeyError });
  t.false(damagedError!.message.includes(damaged.slice(16)));
});

test('readIdentities: missing, empty, comments only, malformed -> KeyError naming the file, not the key', async (t) => {
  const missing = join(dir, 'missing.txt');
  const e1 = await t.throwsAsync(readIdentities(missing), { instanceOf: KeyError });
  t.regex(e1!.message, /missing\.txt does not exist/);

  const empty = join(dir, 'empty.txt');
  await writeFile(empty, '');
  t.regex((await t.throwsAsync(readIdentities(empty), { instanceOf: KeyError }))!.message, /empty\.txt holds no identity/);

  const comments = join(dir, 'comments.txt');
  await writeFile(comments, '# only a comment\n\n');
  t.regex((await t.throwsAsync(readIdentities(comments), { instanceOf: KeyError }))!.message, /holds no identity/);

  const malformed = join(dir, 'malformed.txt');
  const broken = `${alice.identity.slice(0, 40)}XYZ${alice.identity.slice(43)}`;
  await writeFile(malformed, `# key\n${broken}\n`);
  const e4 = await t.throwsAsync(readIdentities(malformed), { instanceOf: KeyError });
  t.regex(e4!.message, /malformed\.txt, line 2, is not a valid age X25519 identity/);
  t.false(e4!.message.includes(broken.slice(16)));

  const publicOnly = join(dir, 'public.txt');
  await writeFile(publicOnly, `${alice.recipient}\n`);
  t.regex((await t.throwsAsync(readIdentities(publicOnly), { instanceOf: KeyError }))!.message, /line 1, is a recipient \(public key\), not an identity/);

  const pq = join(dir, 'pq.txt');
  await writeFile(pq, 'AGE-SECRET-KEY-PQ-1QQQQ\n');
  t.regex((await t.throwsAsync(readIdentities(pq), { instanceOf: KeyError }))!.message, /post-quantum/);

  const directory = await t.throwsAsync(readIdentities(dir), { instanceOf: KeyError });
  t.regex(directory!.message, /cannot be read/);
});

test('checkIdentityFileMode warns when group or others may read the identity', async (t) => {
  const file = join(dir, 'mode.txt');
  await writeFile(file, `${alice.identity}\n`);
  await chmod(file, 0o600);
  t.deepEqual(await checkIdentityFileMode(file), { mode: 0o600, warning: undefined });
  await chmod(file, 0o640);
  t.regex((await checkIdentityFileMode(file)).warning ?? '', /readable by its group \(mode 0640\); run chmod 600/);
  await chmod(file, 0o644);
  const check = await checkIdentityFileMode(file);
  t.is(check.mode, 0o644);
  t.regex(check.warning ?? '', /readable by every user/);
  t.false((check.warning ?? '').includes(alice.identity));
  t.deepEqual(await readIdentities(file), [alice.identity], 'reading still works; the warning is the caller\'s to print');
  t.is((await readFile(file, 'utf8')).trim(), alice.identity);
});
