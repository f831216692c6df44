/**
 * How fast is age encryption/decryption of a stream, age-encryption (JavaScript, web streams)
 * vs our node:crypto STREAM (src/crypto/age.ts)? The answer is in docs/decisions/age-payload.md.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/crypto-throughput.js [megabytes=200] [rounds=2]
 *
 * Input is incompressible random data in 64 KiB chunks, the shape zstd's stdout hands us; the
 * ciphertext to decrypt is held in memory, also fed in 64 KiB chunks, so that file reading
 * (0.24 s for 200 MB from the page cache here) does not blur the figures.
 * CPU is this process's user+system time (node:crypto and JavaScript alike run on it); the age
 * CLI's CPU is in its own process and not counted.
 *
 * Measured 2026-11-21, Node 20.20.2, 2 shared cores, 200 MB, 3 rounds (MB/s; CPU s):
 *   encrypt own (node:crypto)     762 / 511 / 1131 MB/s   0.26 / 0.33 / 0.23 s
 *   encrypt age-encryption 0.3     54 /  47 /   72 MB/s   3.62 / 3.27 / 3.05 s
 *   decrypt own (node:crypto)     606 / 1051 / 1134 MB/s  0.32 / 0.26 / 0.24 s
 *   decrypt age-encryption 0.3     56 /  87 /   67 MB/s   3.49 / 2.53 / 2.84 s
 *   age CLI 1.1.1 encrypt/decrypt  445-692 / 303-483 MB/s (CPU in the child)
 * The library's cost is its JavaScript ChaCha20-Poly1305 (@noble/ciphers alone: 52-71 MB/s),
 * not the web-stream bridge. Decision and reasoning: docs/decisions/age-payload.md.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Decrypter, Encrypter } from 'age-encryption';
import { createDecryptStream, createEncryptStream, generateIdentity } from '../src/crypto/age.js';

const MB = 1e6;
const megabytes = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 2);
const total = megabytes * MB;
const pool = randomBytes(1 << 20);

function source(): Readable {
  return Readable.from((function* () {
    const chunk = 64 * 1024;
    for (let sent = 0, i = 0; sent < total; sent += chunk, i += 1) {
      const n = Math.min(chunk, total - sent);
      const start = (i * 4099) % (pool.length - chunk);
      yield pool.subarray(start, start + n);
    }
  })(), { objectMode: false });
}

function replay(bytes: Buffer): () => Readable {
  return () => Readable.from((function* () {
    for (let offset = 0; offset < bytes.length; offset += 64 * 1024) yield bytes.subarray(offset, offset + 64 * 1024);
  })(), { objectMode: false });
}

function sink(): Writable {
  return new Writable({ write: (_chunk, _encoding, callback) => callback() });
}

interface Result { name: string; seconds: number; cpu: number; mbps: number }

async function measure(name: string, run: () => Promise<void>): Promise<Result> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await run();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const result = { name, seconds, cpu: (cpu.user + cpu.system) / 1e6, mbps: megabytes / seconds };
  console.log(`${name.padEnd(44)} ${result.mbps.toFixed(0).padStart(6)} MB/s  ${seconds.toFixed(2).padStart(6)} s wall  ${result.cpu.toFixed(2).padStart(6)} s CPU`);
  return result;
}

function toWeb(readable: Readable): ReadableStream<Uint8Array> {
  return Readable.toWeb(readable) as unknown as ReadableStream<Uint8Array>;
}

function fromWeb(stream: ReadableStream<Uint8Array>): Readable {
  return Readable.fromWeb(stream as unknown as WebReadableStream<Uint8Array>);
}

async function runCli(args: string[], input: () => Readable): Promise<void> {
  const child = spawn('age', args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const exit = new Promise<number | null>((resolve) => child.once('close', resolve));
  await Promise.all([pipeline(input(), child.stdin), pipeline(child.stdout, sink())]);
  if ((await exit) !== 0) throw new Error(`age ${args.join(' ')} failed`);
}

const dir = await mkdtemp(join(tmpdir(), 'ngcp-backup-bench-'));
try {
  const { identity, recipient } = await generateIdentity();
  const keyFile = join(dir, 'key.txt');
  await writeFile(keyFile, `${identity}\n`, { mode: 0o600 });
  const pieces: Buffer[] = [];
  await pipeline(source(), createEncryptStream([recipient]), new Writable({
    write: (chunk: Buffer, _encoding, callback) => {
      pieces.push(chunk);
      callback();
    },
  }));
  const encrypted = replay(Buffer.concat(pieces));
  pieces.length = 0;

  console.log(`node ${process.version}, ${megabytes} MB of random data, ${rounds} rounds\n`);
  for (let round = 1; round <= rounds; round += 1) {
    await measure('encrypt  own (node:crypto Transform)', () => pipeline(source(), createEncryptStream([recipient]), sink()));
    await measure('encrypt  age-encryption 0.3 (web streams)', async () => {
      const encrypter = new Encrypter();
      encrypter.addRecipient(recipient);
      await pipeline(fromWeb(await encrypter.encrypt(toWeb(source()))), sink());
    });
    await measure('decrypt  own (node:crypto Transform)', () => pipeline(encrypted(), createDecryptStream([identity]), sink()));
    await measure('decrypt  age-encryption 0.3 (web streams)', async () => {
      const decrypter = new Decrypter();
      decrypter.addIdentity(identity);
      await pipeline(fromWeb(await decrypter.decrypt(toWeb(encrypted()))), sink());
    });
    await measure('reference: age CLI encrypt (child process)', () => runCli(['-r', recipient], source));
    await measure('reference: age CLI decrypt (child process)', () => runCli(['-d', '-i', keyFile], encrypted));
    await measure('reference: source -> sink, no crypto', () => pipeline(source(), sink()));
    await measure('reference: ciphertext -> sink, no crypto', () => pipeline(encrypted(), sink()));
    console.log('');
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
