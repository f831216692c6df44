import { createWriteStream } from 'node:fs';
import { chmod, chown, copyFile, lstat, mkdir, rename, rm, symlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import { FILES_INDEX, type NodeFileEntry } from '../format/files-index.js';
import { CONFIG_DIR, ownerNames } from './files.js';

export interface FilesRestoreResult {
  restored: string[];
  /** Files of /etc/ngcp-config kept as this node has them (options.keep). */
  kept: string[];
}

/** This machine's interfaces and addresses: kept from the target unless the operator asks (--restore-network). */
export const NETWORK_YML = `${CONFIG_DIR}/network.yml`;

/**
 * Puts the node's files back: everything is first written to a staging tree beside the
 * targets (same filesystem), with the recorded modes, owners (by name: numeric ids differ
 * between installations) and times; only then is /etc/ngcp-config (with .git) swapped in
 * whole and each other file renamed over its target. A failure before the swap changes nothing.
 * Files of /etc/ngcp-config named in `keep` (network.yml) are copied from the live tree into the
 * staged one first, so the swap keeps them as they are; one the node lacks comes from the snapshot.
 */
export async function restoreFiles(
  root: string,
  tar: Readable,
  entries: NodeFileEntry[],
  stagingName: string,
  options: { only?: (nodePath: string) => boolean; keep?: string[] } = {},
): Promise<FilesRestoreResult> {
  const { only } = options;
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const selected = (p: string): boolean => byPath.has(p) && (!only || only(p));
  const staging = path.join(root, 'etc', `.${stagingName}`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true, mode: 0o700 });
  try {
    const staged: NodeFileEntry[] = [];
    const writes: Array<Promise<void>> = [];
    const parser = new Parser({
      onReadEntry: (entry: ReadEntry) => {
        const nodePath = '/' + entry.path.replace(/^\.?\/+/, '').replace(/\/$/, '');
        if (entry.path === FILES_INDEX || !selected(nodePath)) {
          entry.resume();
          return;
        }
        const meta = byPath.get(nodePath)!;
        const dest = path.join(staging, nodePath);
        staged.push(meta);
        entry.pause();
        const write = (async () => {
          await mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
          if (meta.type === 'directory') await mkdir(dest, { recursive: true, mode: 0o700 });
          else if (meta.type === 'symlink') await symlink(entry.linkpath ?? '', dest);
          else {
            await pipeline(entry, createWriteStream(dest, { mode: 0o600 }));
            return;
          }
          entry.resume();
        })();
        writes.push(write);
        write.catch((error: unknown) => parser.abort(error as Error));
      },
    });
    await pipeline(tar, parser as unknown as Writable);
    // The parser may end before the last file is flushed to disk.
    await Promise.all(writes);

    const ids = await ownerNames();
    const uidOf = invert(ids.users);
    const gidOf = invert(ids.groups);
    // Deepest first, so a directory's time is set after its children were written.
    for (const e of [...staged].sort((a, b) => b.path.length - a.path.length)) {
      const dest = path.join(staging, e.path);
      const uid = uidOf.get(e.user) ?? e.uid;
      const gid = gidOf.get(e.group) ?? e.gid;
      if (e.type === 'symlink') continue;
      await chown(dest, uid, gid);
      await chmod(dest, e.mode);
      await utimes(dest, new Date(e.mtime), new Date(e.mtime));
    }

    const restored: string[] = [];
    const kept: string[] = [];
    const insideConfig = (p: string) => p === CONFIG_DIR || p.startsWith(CONFIG_DIR + '/');
    if (staged.some((e) => e.path === CONFIG_DIR)) {
      for (const nodePath of (options.keep ?? []).filter((p) => insideConfig(p) && p !== CONFIG_DIR)) {
        if (await keepLive(root, staging, nodePath)) kept.push(nodePath);
      }
      const target = path.join(root, CONFIG_DIR);
      const old = `${target}.ngcp-backup-old`;
      await rm(old, { recursive: true, force: true });
      await rename(target, old).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
      await rename(path.join(staging, CONFIG_DIR), target);
      await rm(old, { recursive: true, force: true });
      restored.push(...staged.filter((e) => insideConfig(e.path) && !kept.includes(e.path)).map((e) => e.path));
    }
    for (const e of staged.filter((x) => !insideConfig(x.path) && x.type !== 'directory')) {
      const target = path.join(root, e.path);
      await ensureParents(root, path.dirname(e.path), byPath);
      const from = path.join(staging, e.path);
      await rename(from, target).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EXDEV') throw error;
        // Another filesystem: copy beside the target, then rename there.
        const tmp = `${target}.ngcp-backup-tmp`;
        await copyFile(from, tmp);
        const st = await lstat(from);
        await chown(tmp, st.uid, st.gid);
        await chmod(tmp, st.mode & 0o7777);
        await rename(tmp, target);
      });
      restored.push(e.path);
    }
    return { restored, kept };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Copies the live file over the staged one with its mode, owner and times; false when the node has none. */
async function keepLive(root: string, staging: string, nodePath: string): Promise<boolean> {
  const live = path.join(root, nodePath);
  let st;
  try {
    st = await lstat(live);
  } catch {
    return false;
  }
  if (!st.isFile()) return false;
  const dest = path.join(staging, nodePath);
  await mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
  await rm(dest, { force: true });
  await copyFile(live, dest);
  await chown(dest, st.uid, st.gid);
  await chmod(dest, st.mode & 0o7777);
  await utimes(dest, st.atime, st.mtime);
  return true;
}

/** Creates missing parent directories with the modes the backup recorded for them. */
async function ensureParents(root: string, nodeDir: string, byPath: Map<string, NodeFileEntry>): Promise<void> {
  if (nodeDir === '/' ) return;
  try {
    await lstat(path.join(root, nodeDir));
    return;
  } catch {
    await ensureParents(root, path.dirname(nodeDir), byPath);
    const meta = byPath.get(nodeDir);
    await mkdir(path.join(root, nodeDir), { mode: meta?.mode ?? 0o755 });
  }
}

function invert(map: Map<number, string>): Map<string, number> {
  return new Map([...map].map(([id, name]) => [name, id]));
}
