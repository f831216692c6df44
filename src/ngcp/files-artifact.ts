import { Readable } from 'node:stream';
import { create as createTar, Header } from 'tar';
import type { NodeFileEntry } from './files.js';

export const FILES_INDEX = '.ngcp-backup/files.tsv';

/**
 * The tar of the node's files, streamed from disk (the files are small and of known size,
 * so a tar is fine here; a dump stream never goes into a tar). The first entry is an index
 * with every entry's owner and group by name, mode and time: numeric ids differ between
 * installations (the mysql group of debian.cnf), and a break-glass restore with plain `tar`
 * can use it to put owners right.
 */
export function filesArtifactStream(root: string, entries: NodeFileEntry[]): Readable {
  const index = Buffer.from(filesIndex(entries), 'utf8');
  const header = new Header({
    path: FILES_INDEX,
    mode: 0o600,
    uid: 0,
    gid: 0,
    uname: 'root',
    gname: 'root',
    size: index.length,
    mtime: new Date(),
    type: 'File',
  });
  header.encode();
  const padding = Buffer.alloc((512 - (index.length % 512)) % 512);
  const pack = createTar(
    { cwd: root, portable: false, follow: false, noDirRecurse: true, preservePaths: false },
    entries.map((e) => e.path.replace(/^\/+/, '')),
  ) as unknown as AsyncIterable<Buffer>;
  return Readable.from(
    (async function* () {
      yield header.block!;
      yield index;
      if (padding.length) yield padding;
      yield* pack;
    })(),
    { objectMode: false },
  );
}

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
