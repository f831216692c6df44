/**
 * Loading rows into a table without its secondary keys, then adding them in one ALTER, is much
 * faster than maintaining every index row by row (InnoDB builds an added index by sorting).
 * Pure text transforms on SHOW CREATE TABLE output, which puts one definition per line.
 * Tables with foreign keys keep their keys (InnoDB would invent an index for the constraint).
 */
export interface DeferredKeys {
  create: string;
  /** `ALTER TABLE ... ADD KEY ..., ADD KEY ...`, or null when nothing was deferred. */
  addKeys: string | null;
}

export function deferSecondaryKeys(createTable: string, qualifiedName: string): DeferredKeys {
  if (/\n\s*CONSTRAINT .* FOREIGN KEY /.test(createTable) || !/^CREATE TABLE /.test(createTable)) {
    return { create: createTable, addKeys: null };
  }
  const lines = createTable.split('\n');
  // An AUTO_INCREMENT column must lead some index: when neither the primary key nor a unique
  // key starts with it, the key that does stays in the CREATE TABLE.
  const autoColumn = /^\s+(`(?:[^`]|``)+`) .*\bAUTO_INCREMENT\b/m.exec(createTable)?.[1];
  const ledByAuto = (line: string) => autoColumn !== undefined && line.includes(`(${autoColumn}`);
  const needsOwnKey = autoColumn !== undefined && !lines.some((l) => /^\s+(PRIMARY KEY|UNIQUE KEY)/.test(l) && ledByAuto(l));
  const keep: string[] = [];
  const deferred: string[] = [];
  for (const line of lines) {
    const m = /^\s+((?:KEY|INDEX|FULLTEXT KEY|FULLTEXT INDEX|SPATIAL KEY) .*?),?$/.exec(line);
    if (m && !(needsOwnKey && ledByAuto(line))) deferred.push(m[1]!);
    else keep.push(line);
  }
  if (deferred.length === 0) return { create: createTable, addKeys: null };
  // The last kept definition before ")" must not end with a comma.
  const close = keep.findIndex((l) => /^\)/.test(l));
  if (close > 0) keep[close - 1] = keep[close - 1]!.replace(/,$/, '');
  return {
    create: keep.join('\n'),
    addKeys: `ALTER TABLE ${qualifiedName} ${deferred.map((d) => `ADD ${d}`).join(', ')}`,
  };
}
