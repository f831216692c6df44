import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockedError } from '../errors.js';

/**
 * The one lock of a host: the daemon and every command that writes to the repository or the
 * node hold it while they run. A file created atomically (link of a complete temporary file,
 * which fails when the name exists) that says who holds it. A holder whose process is gone
 * (or whose pid now belongs to another process) left a stale lock, which the next run takes over.
 */
export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  started: string;
  /** /proc/<pid>/stat start time (clock ticks since boot): tells a reused pid from the holder. */
  procStart?: string;
}

export interface HeldLock extends AsyncDisposable {
  file: string;
  holder: LockHolder;
  /** The holder of the stale lock this run took over, if any. */
  takenOver?: LockHolder;
  release(): Promise<void>;
}

export interface LockOptions {
  dir: string;
  command: string;
  /** Seconds to wait for the holder to finish; undefined: fail at once; Infinity: until the signal. */
  waitSeconds?: number;
  signal?: AbortSignal;
  /** Called once when the lock is busy and we wait for it. */
  onWait?: (holder: LockHolder) => void;
  pollMs?: number;
}

export const LOCK_NAME = 'ngcp-backup.lock';

export async function acquireLock(options: LockOptions): Promise<HeldLock> {
  const file = path.join(options.dir, LOCK_NAME);
  await mkdir(options.dir, { recursive: true, mode: 0o755 });
  const holder: LockHolder = { pid: process.pid, host: os.hostname(), command: options.command, started: new Date().toISOString(), procStart: procStart(process.pid) };
  const deadline = options.waitSeconds === undefined ? 0 : Date.now() + options.waitSeconds * 1000;
  let takenOver: LockHolder | undefined;
  let waited = false;
  for (;;) {
    options.signal?.throwIfAborted();
    if (await tryCreate(file, holder)) return held(file, holder, takenOver);
    const current = await readHolder(file);
    if (current === 'gone') continue;
    if (current === 'garbled' || isStale(current)) {
      const stale = current === 'garbled' ? undefined : current;
      if (await removeStale(file, stale)) takenOver = stale ?? { pid: 0, host: '?', command: 'unknown (unreadable lock file)', started: '?' };
      continue;
    }
    if (Date.now() >= deadline) throw new LockedError(`${describeHolder(current)} holds the lock ${file}${options.waitSeconds === undefined ? ' (use --wait to wait for it)' : `; waited ${options.waitSeconds} s`}`);
    if (!waited) options.onWait?.(current);
    waited = true;
    await sleep(Math.min(options.pollMs ?? 500, Math.max(deadline - Date.now(), 10)), undefined, { signal: options.signal }).catch(() => {});
  }
}

/** Who holds the lock now (a stale holder included), or undefined when nobody does. */
export async function currentHolder(dir: string): Promise<(LockHolder & { stale: boolean }) | undefined> {
  const h = await readHolder(path.join(dir, LOCK_NAME));
  if (h === 'gone') return undefined;
  if (h === 'garbled') return { pid: 0, host: '?', command: 'unknown (unreadable lock file)', started: '?', stale: true };
  return { ...h, stale: isStale(h) };
}

export function describeHolder(h: LockHolder): string {
  const where = h.host === os.hostname() ? '' : ` on host ${h.host}`;
  return `ngcp-backup ${h.command} (pid ${h.pid}${where}, since ${h.started})`;
}

async function tryCreate(file: string, holder: LockHolder): Promise<boolean> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temp, JSON.stringify(holder) + '\n', { mode: 0o644 });
  try {
    await link(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(temp, { force: true });
  }
}

async function readHolder(file: string): Promise<LockHolder | 'gone' | 'garbled'> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw error;
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    return Number.isInteger(h.pid) && h.pid > 0 && typeof h.host === 'string' ? h : 'garbled';
  } catch {
    return 'garbled';
  }
}

/** Only a holder on this host can be judged; one on another host is trusted to be alive. */
export function isStale(h: LockHolder): boolean {
  if (h.host !== os.hostname()) return false;
  if (h.pid === process.pid) return false;
  try {
    process.kill(h.pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const now = procStart(h.pid);
  return h.procStart !== undefined && now !== undefined && now !== h.procStart;
}

/**
 * Moves the stale file aside and checks that what was moved is the stale holder's: if another
 * run took the lock over in between, its file is put back.
 */
async function removeStale(file: string, stale: LockHolder | undefined): Promise<boolean> {
  const aside = `${file}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  const moved = await readHolder(aside);
  const same = stale === undefined ? moved === 'garbled' : typeof moved === 'object' && moved.pid === stale.pid && moved.started === stale.started;
  if (!same) await link(aside, file).catch(() => {});
  await unlink(aside).catch(() => {});
  return same;
}

function held(file: string, holder: LockHolder, takenOver: LockHolder | undefined): HeldLock {
  let released = false;
  const releaseSync = () => {
    if (released) return;
    released = true;
    try {
      const h = JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
      if (h.pid === holder.pid && h.started === holder.started) unlinkSync(file);
    } catch {
      // gone already, or not ours: nothing to release
    }
  };
  // A process that exits without reaching release (an exception path we did not foresee)
  // still leaves no lock behind.
  process.once('exit', releaseSync);
  const release = async () => {
    process.off('exit', releaseSync);
    releaseSync();
  };
  return { file, holder, takenOver, release, [Symbol.asyncDispose]: release };
}

export function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
