import type { DatabaseInfo } from './catalog.js';
import { quoteIdent, quoteString, type Db } from './connection.js';
import { replaceColumnType } from './enum-labels.js';
import { DatabaseError } from '../errors.js';
import type { ObjectCounts } from '../format/details.js';

/**
 * Schema files are loadable by the `mariadb` client as they are and easy to split for our
 * own loader: they switch to `DELIMITER ;;` and end every statement with a line `;;`.
 */
export const STATEMENT_END = '\n;;\n';
const HEADER = 'SET NAMES utf8mb4;\nDELIMITER ;;\n';
const FOOTER = 'DELIMITER ;\n';
const LOAD_SQL_MODE = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION';

export function statement(sql: string): string {
  return sql.trimEnd() + STATEMENT_END;
}

/** Splits a schema/objects file into statements (the inverse of statement()). */
export function splitStatements(text: string): string[] {
  // Everything before `DELIMITER ;;` is the comment and SET NAMES a loader's session already has.
  const start = text.indexOf('DELIMITER ;;\n');
  const body = (start < 0 ? text : text.slice(start + 'DELIMITER ;;\n'.length)).replace(/DELIMITER ;\n$/, '');
  return body.split(STATEMENT_END).map((s) => s.trim()).filter((s) => s.length > 0 && !/^--[^\n]*$/.test(s));
}

export interface SequenceState {
  table: string;
  nextValue: string;
}

/** CREATE DATABASE, every CREATE TABLE (bases before MERGE tables) and sequences with their values. */
export async function databaseSchemaSql(db: Db, database: DatabaseInfo, sequences: SequenceState[], trueTypes: Map<string, string> = new Map()): Promise<string> {
  const d = quoteIdent(database.name);
  const out: string[] = [`-- schema of ${d.replace(/[\r\n]/g, ' ')}\n${HEADER}`];
  out.push(statement(`SET sql_mode='${LOAD_SQL_MODE}', foreign_key_checks=0`));
  out.push(statement(`CREATE DATABASE IF NOT EXISTS ${d} /*!40100 DEFAULT CHARACTER SET ${database.charset} COLLATE ${database.collation} */`));
  out.push(statement(`USE ${d}`));
  const tables = database.tables.filter((t) => t.kind === 'table');
  const ordered = [...tables.filter((t) => !t.dataElsewhere), ...tables.filter((t) => t.dataElsewhere)];
  for (const t of ordered) {
    const [row] = await db.query<Record<string, string>>(`SHOW CREATE TABLE ${d}.${quoteIdent(t.name)}`);
    let create = row!['Create Table']!;
    for (const c of t.columns) {
      const type = trueTypes.get(`${database.name}\0${t.name}\0${c.name}`);
      if (type) create = replaceColumnType(create, c.name, type);
    }
    out.push(statement(create));
  }
  for (const s of database.tables.filter((t) => t.kind === 'sequence')) {
    const [row] = await db.query<Record<string, string>>(`SHOW CREATE SEQUENCE ${d}.${quoteIdent(s.name)}`);
    out.push(statement(row!['Create Table']!));
    const state = sequences.find((x) => x.table === s.name);
    if (state) out.push(statement(`SELECT SETVAL(${quoteIdent(s.name)}, ${state.nextValue}, 0)`));
  }
  out.push(FOOTER);
  return out.join('');
}

/** Routines, views (in dependency order), triggers and events, each with its own sql_mode. */
export async function databaseObjectsSql(db: Db, database: DatabaseInfo): Promise<{ sql: string; counts: ObjectCounts }> {
  const d = quoteIdent(database.name);
  const name = database.name;
  const out: string[] = [`-- views, routines, triggers and events of ${d.replace(/[\r\n]/g, ' ')}\n${HEADER}`];
  out.push(statement(`USE ${d}`));

  // Routines first: CREATE FUNCTION does not check what it uses, a view that calls one does.
  const routines = await db.query<{ name: string; type: string }>(
    'SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS type FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_TYPE, ROUTINE_NAME',
    [name],
  );
  for (const r of routines) {
    const kind = r.type === 'FUNCTION' ? 'FUNCTION' : r.type === 'PACKAGE' ? 'PACKAGE' : r.type === 'PACKAGE BODY' ? 'PACKAGE BODY' : 'PROCEDURE';
    const [row] = await db.query<Record<string, string>>(`SHOW CREATE ${kind} ${d}.${quoteIdent(r.name)}`);
    const create = row![`Create ${kind === 'FUNCTION' ? 'Function' : kind === 'PROCEDURE' ? 'Procedure' : kind === 'PACKAGE' ? 'Package' : 'Package Body'}`];
    if (!create) throw new DatabaseError(`SHOW CREATE ${kind} ${name}.${r.name} returned no definition: the backup user lacks the privilege to read routine bodies`);
    out.push(statement(`SET sql_mode=${quoteString(row!['sql_mode'] ?? '')}`));
    out.push(statement(create));
  }

  const views = database.tables.filter((t) => t.kind === 'view').map((t) => t.name);
  const viewSql = new Map<string, string>();
  for (const v of views) {
    const [row] = await db.query<Record<string, string>>(`SHOW CREATE VIEW ${d}.${quoteIdent(v)}`);
    viewSql.set(v, row!['Create View']!);
  }
  for (const v of orderViews(viewSql)) {
    out.push(statement(`SET sql_mode='${LOAD_SQL_MODE}'`));
    out.push(statement(viewSql.get(v)!));
  }

  const triggers = await db.query<{ name: string }>(
    'SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER',
    [name],
  );
  for (const t of triggers) {
    const [row] = await db.query<Record<string, string>>(`SHOW CREATE TRIGGER ${d}.${quoteIdent(t.name)}`);
    out.push(statement(`SET sql_mode=${quoteString(row!['sql_mode'] ?? '')}`));
    out.push(statement(row!['SQL Original Statement']!));
  }

  const events = await db.query<{ name: string }>('SELECT EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME', [name]);
  for (const e of events) {
    const [row] = await db.query<Record<string, string>>(`SHOW CREATE EVENT ${d}.${quoteIdent(e.name)}`);
    out.push(statement(`SET sql_mode=${quoteString(row!['sql_mode'] ?? '')}, time_zone=${quoteString(row!['time_zone'] ?? 'SYSTEM')}`));
    out.push(statement(row!['Create Event']!));
  }
  out.push(statement(`SET sql_mode='${LOAD_SQL_MODE}', time_zone='+00:00'`));
  out.push(FOOTER);
  return {
    sql: out.join(''),
    counts: { views: views.length, routines: routines.length, triggers: triggers.length, events: events.length },
  };
}

/** Views that use other views of the same database come after them. */
export function orderViews(views: Map<string, string>): string[] {
  const names = [...views.keys()].sort();
  const uses = (a: string, b: string): boolean => a !== b && views.get(a)!.includes('`' + b.replace(/`/g, '``') + '`');
  const done: string[] = [];
  const visiting = new Set<string>();
  const visit = (v: string): void => {
    if (done.includes(v) || visiting.has(v)) return;
    visiting.add(v);
    for (const other of names) if (uses(v, other)) visit(other);
    visiting.delete(v);
    done.push(v);
  };
  names.forEach(visit);
  return done;
}

/** Accounts that are not the server's or the distribution's own. */
export const SYSTEM_USERS = ['root', 'mariadb.sys', 'mysql', 'debian-sys-maint', 'PUBLIC', ''];

/**
 * CREATE OR REPLACE USER + GRANTs for every account that is not a system account: after a
 * restore the backup's accounts (and password hashes, which match the restored constants.yml)
 * are the truth, also on a fresh install whose service users have other passwords.
 */
export async function grantsSql(db: Db): Promise<{ sql: string; users: string[] }> {
  const users = await db.query<{ user: string; host: string }>(
    `SELECT User AS user, Host AS host FROM mysql.user WHERE is_role = 'N' AND User NOT IN (${SYSTEM_USERS.map(quoteString).join(',')}) ORDER BY User, Host`,
  );
  const out: string[] = [`-- accounts and grants\n${HEADER}`];
  const names: string[] = [];
  for (const u of users) {
    const account = `${quoteString(u.user)}@${quoteString(u.host)}`;
    names.push(`${u.user}@${u.host}`);
    const [create] = await db.query<Record<string, string>>(`SHOW CREATE USER ${account}`);
    const createSql = Object.values(create!)[0]!;
    out.push(statement(createSql.replace(/^CREATE USER /, 'CREATE OR REPLACE USER ')));
    for (const g of await db.query<Record<string, string>>(`SHOW GRANTS FOR ${account}`)) {
      out.push(statement(Object.values(g)[0]!));
    }
  }
  out.push(FOOTER);
  return { sql: out.join(''), users: names };
}

/** How many views, routines, triggers and events a database has (what a restore must recreate). */
export async function countSchemaObjects(db: Db, database: string): Promise<ObjectCounts> {
  const [row] = await db.query<Record<keyof ObjectCounts, string>>(
    `SELECT (SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?) AS views,
            (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?) AS routines,
            (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?) AS triggers,
            (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?) AS events`,
    [database, database, database, database],
  );
  return { views: Number(row!.views), routines: Number(row!.routines), triggers: Number(row!.triggers), events: Number(row!.events) };
}
