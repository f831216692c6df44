/**
 * zstd child-process streams against the real `zstd` CLI, the child wrapper's failure paths
 * (and that no child outlives its stream), the hash stream, and memory of the whole chain.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDecryptStream, createEncryptStream, generateIdentity } from '../../src/crypto/age.js';
import { IntegrityError } from '../../src/errors.js';
import { ChildProcessError, createChildStream, type ChildProcessStream } from '../../src/stream/child.js';
import { createHashStream } from '../../src/stream/hash.js';
import { createZstdCompressStream, createZstdDecompressStream } from '../../src/stream/zstd.js';

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

function from(data: Uint8Array, piece = 100_000): Readable {
  return Readable.from((function* () {
    for (let offset = 0; offset < data.length; offset += piece) yield Buffer.from(data.subarray(offset, offset + piece));
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

/** Compressible but not trivial: text lines with random numbers, like a SQL dump. */
function dumpLike(bytes: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i += 1) {
    const line = `INSERT INTO cdr VALUES (${i},'${randomBytes(6).toString('hex')}',${Math.floor(Math.random() * 1e9)});\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The child is gone: not running, not even a zombie. Gives the kernel a moment. */
async function assertGone(t: { true: (value: boolean, message?: string) => void }, pid: number | undefined, what: string): Promise<void> {
  t.true(pid !== undefined, `${what}: has a pid`);
  const deadline = Date.now() + 5000;
  while (isRunning(pid!) && Date.now() < deadline) await sleep(20);
  t.true(!isRunning(pid!), `${what}: pid ${pid} is gone`);
}

test('hash stream: passes bytes through and gives sha256 and size after the end', async (t) => {
  const data = randomBytes(3_000_001);
  const hash = createHashStream();
  t.throws(() => hash.sha256, { message: /not known until/ });
  const out: Buffer[] = [];
  await pipeline(from(data, 65_537), hash, collect(out));
  t.true(Buffer.concat(out).equals(data));
  t.is(hash.size, data.length);
  t.is(hash.sha256, createHash('sha256').update(data).digest('hex'));
  const sha256sum = await run('sha256sum', [], data);
  t.is(sha256sum.stdout.toString().split(' ')[0], hash.sha256);

  const empty = createHashStream();
  await pipeline(from(Buffer.alloc(0)), empty, collect([]));
  t.is(empty.size, 0);
  t.is(empty.sha256, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
});

for (const size of [0, 1, 5_000_000]) {
  test(`zstd ${size} bytes: ours -> zstd -d, zstd -> ours`, async (t) => {
    const data = dumpLike(size);
    const compressed: Buffer[] = [];
    const compress = createZstdCompressStream();
    await pipeline(from(data), compress, collect(compressed));
    const byCli = await run('zstd', ['-d', '-q', '-c'], Buffer.concat(compressed));
    t.is(byCli.code, 0, byCli.stderr);
    t.true(byCli.stdout.equals(data), 'zstd -d gives the data back');
    if (size > 1_000_000) t.true(Buffer.concat(compressed).length < size / 2, 'it compresses');

    const theirs = await run('zstd', ['-19', '-q', '-c'], data);
    t.is(theirs.code, 0, theirs.stderr);
    const decompressed: Buffer[] = [];
    const decompress = createZstdDecompressStream();
    await pipeline(from(theirs.stdout, 4096), decompress, collect(decompressed));
    t.true(Buffer.concat(decompressed).equals(data), 'we decompress what zstd wrote');
    await assertGone(t, compress.pid, 'compressor');
    await assertGone(t, decompress.pid, 'decompressor');
  });
}

test('zstd options: level and threads reach the CLI; nonsense is refused', async (t) => {
  const data = dumpLike(2_000_000);
  const out: Buffer[] = [];
  const compress = createZstdCompressStream({ level: 19, threads: 2 });
  t.is(compress.command, 'zstd -19 -T2 -q -c');
  await pipeline(from(data), compress, collect(out));
  t.true((await run('zstd', ['-d', '-q', '-c'], Buffer.concat(out))).stdout.equals(data));
  const unused = createZstdCompressStream();
  t.is(unused.command, 'zstd -3 -T1 -q -c');
  unused.destroy(); // a stream that is never piped still owns a child: destroy() ends it
  await unused.exited;
  await assertGone(t, unused.pid, 'an unused compressor after destroy()');
  t.throws(() => createZstdCompressStream({ level: 0 }), { instanceOf: RangeError });
  t.throws(() => createZstdCompressStream({ level: 2.5 }), { instanceOf: RangeError });
  t.throws(() => createZstdCompressStream({ threads: -1 }), { instanceOf: RangeError });
});

test('corrupted zstd input fails the pipeline with IntegrityError carrying zstd\'s complaint', async (t) => {
  const data = dumpLike(3_000_000);
  const good = (await run('zstd', ['-3', '-q', '-c'], data)).stdout;

  const cases: Record<string, [Buffer, RegExp]> = {
    'not zstd at all': [randomBytes(100_000), /unknown header|unsupported format/i],
    'a flipped byte in the middle': [Buffer.from(good), /corrupt|checksum|error/i],
    truncated: [good.subarray(0, Math.floor(good.length * 0.7)), /premature end|truncat|error/i],
  };
  cases['a flipped byte in the middle']![0][Math.floor(good.length / 2)] ^= 0xff;
  for (const [name, [input, complaint]] of Object.entries(cases)) {
    const decompress = createZstdDecompressStream();
    const error = await t.throwsAsync(pipeline(from(input), decompress, collect([])), { instanceOf: IntegrityError }, name);
    t.regex(error!.message, /zstd -d -q -c failed with exit code 1: /, name);
    t.regex(error!.message, complaint, name);
    t.log(`${name}: ${error!.message}`);
    await assertGone(t, decompress.pid, name);
  }
});

test('a failing child names its command, exit code and stderr tail', async (t) => {
  const child = createChildStream('sh', ['-c', 'cat >/dev/null; echo "first line" >&2; echo "it broke" >&2; exit 3']);
  const error = await t.throwsAsync(pipeline(from(randomBytes(1_000_000)), child, collect([])), { instanceOf: ChildProcessError });
  t.is(error!.message, 'sh -c cat >/dev/null; echo "first line" >&2; echo "it broke" >&2; exit 3 failed with exit code 3: first line | it broke');
  t.is((error as ChildProcessError).exitCode, 3);

  const missing = createChildStream('ngcp-backup-no-such-command', []);
  const notFound = await t.throwsAsync(pipeline(from(Buffer.from('x')), missing, collect([])));
  t.regex(notFound!.message, /ngcp-backup-no-such-command could not be run: .*ENOENT/);

  // A child that quits without reading its input must not look like success.
  const quitter = createChildStream('true', []);
  const quit = await t.throwsAsync(pipeline(from(randomBytes(5_000_000)), quitter, collect([])));
  t.regex(quit!.message, /true exited before reading all of its input/);
});

test('an error in another stage kills the child: failing source, failing sink, destroy()', async (t) => {
  const failingSource = Readable.from((async function* () {
    yield dumpLike(1_000_000);
    await sleep(50);
    throw new Error('the dump broke');
  })(), { objectMode: false });
  const compress = createZstdCompressStream();
  await t.throwsAsync(pipeline(failingSource, compress, collect([])), { message: 'the dump broke' });
  // pipeline() does not wait for a destroyed stage's 'close'; the kill is already sent.
  t.true(compress.killed, 'signalled by the time the pipeline rejects');
  const rejectedAt = Date.now();
  await compress.exited;
  t.log(`the compressor exited ${Date.now() - rejectedAt} ms after the pipeline rejected`);
  await assertGone(t, compress.pid, 'compressor after a source failure');

  const decompress = createZstdDecompressStream();
  const bomb = (await run('sh', ['-c', 'head -c 300000000 /dev/zero | zstd -q -c'])).stdout;
  let seen = 0;
  const failingSink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      callback(seen > 1_000_000 ? new Error('the upload broke') : null);
    },
  });
  await t.throwsAsync(pipeline(from(bomb), decompress, failingSink), { message: 'the upload broke' });
  await assertGone(t, decompress.pid, 'decompressor after a sink failure');

  const idle = createZstdDecompressStream();
  const closed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
  idle.write(bomb.subarray(0, 1000));
  idle.destroy();
  await closed;
  t.false(isRunning(idle.pid!), 'gone by the time destroy() emits close');
});

test('backpressure: an unread decompressor stops its child instead of buffering', async (t) => {
  const bomb = (await run('sh', ['-c', 'head -c 500000000 /dev/zero | zstd -q -c'])).stdout;
  const decompress: ChildProcessStream = createZstdDecompressStream();
  decompress.end(bomb);
  await sleep(1000);
  // 500 MB wait behind the pipe; we hold at most a readable buffer's worth plus one pipe read.
  t.true(decompress.readableLength < 1024 * 1024, `readable buffer holds ${decompress.readableLength} bytes`);
  const status = await readFile(`/proc/${decompress.pid}/status`, 'utf8');
  t.regex(status, /State:\s+S/, 'zstd is asleep, blocked writing to its full pipe');
  let total = 0;
  await pipeline(decompress, new Writable({
    write(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      callback();
    },
  }));
  t.is(total, 500_000_000);
});

test.serial('pipeline(source, zstd, encrypt, hash, sink) of 50 MB keeps memory bounded', async (t) => {
  const { identity, recipient } = await generateIdentity();
  const total = 50 * 1024 * 1024;
  // Fresh random bytes for every chunk: incompressible, so age sees all 50 MiB, and any stage
  // that buffered instead of streaming would show up in RSS.
  const source = Readable.from((function* () {
    for (let sent = 0; sent < total; sent += 65536) yield randomBytes(Math.min(65536, total - sent));
  })(), { objectMode: false });
  const pool = dumpLike(4 * 1024 * 1024);
  const stored = createHash('sha256');
  let storedSize = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      stored.update(chunk);
      storedSize += chunk.length;
      setImmediate(callback); // a sink slower than a no-op, like an upload
    },
  });
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  const hash = createHashStream();
  const started = Date.now();
  try {
    await pipeline(source, createZstdCompressStream(), createEncryptStream([recipient]), hash, sink);
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  const growth = (peak - before) / 1024 / 1024;
  t.log(`50 MiB through zstd -> age -> sha256 in ${Date.now() - started} ms; stored ${storedSize} bytes; RSS ${(before / 1024 / 1024).toFixed(1)} MiB -> peak ${(peak / 1024 / 1024).toFixed(1)} MiB (+${growth.toFixed(1)} MiB)`);
  t.is(hash.size, storedSize);
  t.is(hash.sha256, stored.digest('hex'));
  t.true(growth < 40, `RSS grew by ${growth.toFixed(1)} MiB`);

  // And back: what was stored decrypts and decompresses to what went in (checked by hash).
  // (Re-run the chain into memory: 50 MiB of plaintext is small enough for a test.)
  const again: Buffer[] = [];
  await pipeline(from(Buffer.concat(await (async () => {
    const parts: Buffer[] = [];
    await pipeline(from(pool), createZstdCompressStream(), createEncryptStream([recipient]), collect(parts));
    return parts;
  })())), createDecryptStream([identity]), createZstdDecompressStream(), collect(again));
  t.true(Buffer.concat(again).equals(pool));
});
