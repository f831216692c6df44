import type { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import type { ManifestObject } from '../format/manifest.js';
import { quoteIdent, type Db } from '../mysql/connection.js';
import { splitStatements } from '../mysql/schema-sql.js';

/**
 * Loads the objects files of a snapshot (views, routines, triggers, events) on `main`. A view may
 * use a view of a database loaded later: what fails for a missing table, view or routine is
 * tried again once everything else exists. With onlyTriggersOf (a one-table restore) only that
 * table's triggers are created.
 */
export async function loadObjects(
  main: Db,
  objects: ManifestObject[],
  open: (name: string) => Promise<Readable>,
  onlyTriggersOf: string | undefined,
  progress?: (done: string) => void,
): Promise<void> {
  let pending: Array<{ database: string; setup: string[]; sql: string }> = [];
  for (const o of objects) {
    const database = o.database!;
    let setup: string[] = [];
    for (const sql of splitStatements(await text(await open(o.name)))) {
      if (/^(SET|USE) /.test(sql)) {
        setup = /^USE /.test(sql) ? [sql] : [setup[0] ?? `USE ${quoteIdent(database)}`, sql];
        await main.query(sql);
        continue;
      }
      if (onlyTriggersOf !== undefined && !isTriggerOn(sql, onlyTriggersOf)) continue;
      try {
        await main.query(sql);
      } catch (error) {
        // Something it uses is not there yet (a table, a view, a routine of a later database).
        if (![1146, 1305, 1356].includes((error as { cause?: { errno?: number } }).cause?.errno ?? 0)) throw error;
        pending.push({ database, setup: [...setup], sql });
      }
    }
    progress?.(`views, routines, triggers and events of ${database}`);
  }
  for (let round = 0; pending.length > 0 && round < 10; round++) {
    const failed: typeof pending = [];
    for (const p of pending) {
      try {
        for (const s of p.setup) await main.query(s);
        await main.query(p.sql);
      } catch {
        failed.push(p);
      }
    }
    if (failed.length === pending.length) {
      for (const s of failed[0]!.setup) await main.query(s);
      await main.query(failed[0]!.sql); // throws the real error
    }
    pending = failed;
  }
}

/** Whether a CREATE TRIGGER is on `table` (written `t`, `db`.`t` or db.t). */
export function isTriggerOn(sql: string, table: string): boolean {
  const id = '(?:`(?:[^`]|``)+`|[\\w$]+)';
  const m = new RegExp(`\\bTRIGGER\\b[\\s\\S]*?\\b(?:BEFORE|AFTER)\\s+(?:INSERT|UPDATE|DELETE)\\s+ON\\s+(${id}(?:\\s*\\.\\s*${id})?)`, 'i').exec(sql);
  if (!m) return false;
  const last = m[1]!.split(/\s*\.\s*(?=[`\w$])/).at(-1)!;
  return last.replace(/^`|`$/g, '').replace(/``/g, '`') === table;
}
