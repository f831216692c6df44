/**
 * A child process as a Duplex: what is written goes to its stdin, what it prints on stdout is
 * read. Made for filters like zstd inside `pipeline()`.
 *
 * - Backpressure both ways: writes wait for stdin to drain; stdout is paused while the reader
 *   is behind.
 * - A non-zero exit (or death by signal) errors the stream with the command line and the tail
 *   of its stderr, as soon as the child has exited and its stderr is drained, whether or not
 *   anyone is still reading stdout.
 * - Destroying the stream (which pipeline() does to every stage when any stage fails) kills the
 *   child at once: SIGTERM, then SIGKILL after a grace period. This stream's 'close' is emitted
 *   only after the child has exited; `exited` resolves then too.
 * - Data never goes into argv: only options do, and callers pass no secrets.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { Duplex } from 'node:stream';
import type { Readable, Writable } from 'node:stream';

const STDERR_TAIL_BYTES = 4096;
const KILL_GRACE_MS = 2000;

export interface ChildFailure {
  /** The command line, e.g. 'zstd -d -q -c'. */
  readonly command: string;
  /** The exit code, or null when the child was killed by a signal. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines of stderr, trimmed; '' when it printed nothing. */
  readonly stderrTail: string;
}

/** A child exited non-zero or was killed. */
export class ChildProcessError extends Error {
  readonly command: string;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderrTail: string;

  constructor(failure: ChildFailure) {
    super(describeFailure(failure));
    this.name = 'ChildProcessError';
    this.command = failure.command;
    this.exitCode = failure.exitCode;
    this.signal = failure.signal;
    this.stderrTail = failure.stderrTail;
  }
}

export function describeFailure(failure: ChildFailure): string {
  const how = failure.signal !== null ? `was killed by ${failure.signal}` : `failed with exit code ${failure.exitCode}`;
  return `${failure.command} ${how}${failure.stderrTail === '' ? '' : `: ${failure.stderrTail}`}`;
}

export interface ChildStreamOptions {
  /** Maps a failure to the error the stream reports; default ChildProcessError. */
  readonly failure?: (failure: ChildFailure) => Error;
  /** Environment of the child; default this process's. */
  readonly env?: NodeJS.ProcessEnv;
}

type Callback = (error?: Error | null) => void;

export class ChildProcessStream extends Duplex {
  readonly command: string;
  readonly #child: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly #failure: (failure: ChildFailure) => Error;
  readonly #exited: Promise<void>;
  #stderr: Buffer = Buffer.alloc(0);
  #pendingWrite: Callback | undefined;
  #pendingFinal: Callback | undefined;
  #finalCalled = false;
  #stdinBroken = false;
  #settled = false;

  constructor(file: string, args: readonly string[], options: ChildStreamOptions = {}) {
    super();
    this.command = [file, ...args].join(' ');
    this.#failure = options.failure ?? ((failure) => new ChildProcessError(failure));
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env });
    this.#child = child;
    this.#exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => {
        if (child.pid === undefined) resolve(); // never started, so never exits
      });
    });

    child.stdout.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) child.stdout.pause();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      const joined = Buffer.concat([this.#stderr, chunk]);
      this.#stderr = joined.subarray(Math.max(0, joined.length - STDERR_TAIL_BYTES));
    });
    // EPIPE on stdin means the child stopped reading: its exit status tells why.
    child.stdin.on('error', () => {
      this.#stdinBroken = true;
    });
    child.stdout.on('error', () => {});
    child.stderr.on('error', () => {});

    child.once('error', (error) => {
      this.#settle(new Error(`${this.command} could not be run: ${error.message}`, { cause: error }));
    });
    child.once('exit', (code, signal) => {
      if (code === 0) return; // success is decided on 'close', once stdout is fully read
      const report = (): void => {
        this.#settle(this.#failure({ command: this.command, exitCode: code, signal, stderrTail: this.#stderrTail() }));
      };
      if (child.stderr.closed || child.stderr.destroyed) report();
      else child.stderr.once('close', report);
    });
    child.once('close', (code) => {
      if (code !== 0) return;
      if (!this.#finalCalled || this.#stdinBroken) {
        this.#settle(new Error(`${this.command} exited before reading all of its input`));
        return;
      }
      this.#settle(undefined);
    });
  }

  /** The child's pid (undefined if it could not be started). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Whether we have signalled the child to stop (destroy() does, before it returns). */
  get killed(): boolean {
    return this.#child.killed;
  }

  /**
   * Resolves once the child has exited (or failed to start). pipeline() rejects as soon as a
   * stage fails, which can be a few milliseconds before a killed child is reaped: await this
   * when that matters (e.g. before removing a directory the child works in).
   */
  get exited(): Promise<void> {
    return this.#exited;
  }

  #stderrTail(): string {
    const lines = this.#stderr.toString('utf8').split('\n').map((line) => line.trimEnd()).filter((line) => line !== '');
    return lines.slice(-5).join(' | ').slice(-1000);
  }

  #settle(error: Error | undefined): void {
    if (this.#settled) return;
    this.#settled = true;
    const write = this.#pendingWrite;
    const final = this.#pendingFinal;
    this.#pendingWrite = undefined;
    this.#pendingFinal = undefined;
    if (error !== undefined) {
      this.destroy(error);
      return;
    }
    write?.();
    final?.();
    this.push(null);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    const stdin = this.#child.stdin;
    if (this.#settled || stdin.destroyed) {
      // The child is gone or going; its exit status (reported by #settle) is the real error.
      this.#pendingWrite = callback;
      return;
    }
    if (stdin.write(chunk)) {
      callback();
      return;
    }
    this.#pendingWrite = callback;
    const done = (): void => {
      stdin.off('drain', done);
      stdin.off('close', done);
      // After 'close' without 'drain', the exit status settles the stream instead.
      if (!stdin.destroyed && this.#pendingWrite === callback) {
        this.#pendingWrite = undefined;
        callback();
      }
    };
    stdin.on('drain', done);
    stdin.on('close', done);
  }

  override _final(callback: Callback): void {
    this.#finalCalled = true;
    // 'finish' waits for the child to exit cleanly: then every byte written was consumed.
    this.#pendingFinal = callback;
    this.#child.stdin.end();
  }

  override _read(): void {
    this.#child.stdout.resume();
  }

  override _destroy(error: Error | null, callback: Callback): void {
    this.#settled = true;
    const child = this.#child;
    child.stdin.destroy();
    child.stdout.destroy();
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
      callback(error);
      return;
    }
    child.kill('SIGTERM');
    const escalate = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    void this.#exited.then(() => {
      clearTimeout(escalate);
      callback(error);
    });
  }
}

export function createChildStream(file: string, args: readonly string[], options?: ChildStreamOptions): ChildProcessStream {
  return new ChildProcessStream(file, args, options);
}
