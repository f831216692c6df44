import { createHash } from 'node:crypto';

/** True when the last line of a CDR export file is the MD5 hex of everything before it (docs/cdr.md). */
export function cdrFileMd5Ok(content: Buffer): boolean {
  let end = content.length;
  if (end > 0 && content[end - 1] === 0x0a) end--;
  const lastNl = content.lastIndexOf(0x0a, end - 1);
  if (lastNl < 0) return false;
  const trailer = content.subarray(lastNl + 1, end).toString('latin1').trim().toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(trailer)) return false;
  return createHash('md5').update(content.subarray(0, lastNl + 1)).digest('hex') === trailer;
}
