import { Readable } from 'node:stream';
import { create as createTar, Header } from 'tar';
import { FILES_INDEX, filesIndex, type NodeFileEntry } from '../format/files-index.js';

/**
 * The tar of the node's files, streamed from disk (the files are small and of known size,
 * so a tar is fine here; a dump stream never goes into a tar). The first entry is the index
 * (src/format/files-index.ts).
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
