/**
 * The index at the head of the files artifact (files.tar.zst.age): every entry's type, mode,
 * owner and group by name (numeric ids differ between installations: the mysql group of
 * debian.cnf), size and time. Restore uses it; a break-glass restore with plain `tar` can too.
 * The same entries are listed in the snapshot's details.
 */

/** One file, directory or symlink of the node that goes into the files artifact. */
export interface NodeFileEntry {
  /** Node path, absolute (as on the node, not including node.root). */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  user: string;
  group: string;
  size: number;
  mtime: string;
}

/** The index's path inside the tar: its first entry. */
export const FILES_INDEX = '.ngcp-backup/files.tsv';

export function filesIndex(entries: NodeFileEntry[]): string {
  const lines = ['# type\tmode\tuser\tgroup\tuid\tgid\tsize\tmtime\tpath'];
  for (const e of entries) {
    lines.push([e.type, e.mode.toString(8).padStart(4, '0'), e.user, e.group, e.uid, e.gid, e.size, e.mtime, e.path].join('\t'));
  }
  return lines.join('\n') + '\n';
}

export function parseFilesIndex(text: string): NodeFileEntry[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [type, mode, user, group, uid, gid, size, mtime, ...rest] = l.split('\t');
      return {
        type: type as NodeFileEntry['type'],
        mode: parseInt(mode!, 8),
        user: user!,
        group: group!,
        uid: Number(uid),
        gid: Number(gid),
        size: Number(size),
        mtime: mtime!,
        path: rest.join('\t'),
      };
    });
}
