import type { ManifestObject } from '../format/manifest.js';
import { PrioritySlots } from '../util/pool.js';

/**
 * The restore's schedule of rows, key builds and figure checks, apart from any real connection:
 * a worker is anything with a thread id that runs a query (a MariaDB connection, or a fake in
 * unit tests).
 */
export interface LoadWorker {
  readonly threadId: number;
  query<T = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<T[]>;
}

/** Something to do with one table once its rows are loaded. */
export interface RowCheck {
  database: string;
  table: string;
  run: () => Promise<void>;
}

export interface LoadSchedule<W extends LoadWorker> {
  workers: W[];
  /** The data objects to load. */
  data: ManifestObject[];
  /** `<database>\0<table>` -> the ALTER TABLE that adds its deferred secondary keys. */
  addKeys: Map<string, string>;
  load: (o: ManifestObject, worker: W) => Promise<void>;
  checks: RowCheck[];
  signal?: AbortSignal;
  /** A connection that watches the processlist, opened when keys are deferred and checks wait on them. */
  openMonitor?: () => Promise<LoadWorker & { close(): Promise<void> }>;
  /** How often the monitor looks at the processlist (ms; default 100). */
  pollMs?: number;
}

/** Which waiting work a free connection takes first (see loadRows). */
const KEYS = 0;
const ROWS = 1;
const CHECKS = 2;

/**
 * Loads the data objects and builds each table's deferred keys and runs the row checks, at most
 * one step per connection at a time. A table's key build starts as soon as its last object is
 * loaded and goes before everything else: MariaDB builds a table's keys on one core, so the
 * biggest table's build is the restore's longest step, and the other connections go on loading
 * and checking beside it. A table's checks wait for its rows and, when it has deferred keys,
 * until the build is under way (a read that started first would hold the build up until the
 * read ends). After the first failure nothing new starts; it is thrown once every running
 * step has ended.
 */
export async function runLoadSchedule<W extends LoadWorker>(input: LoadSchedule<W>): Promise<void> {
  const { workers, data, addKeys, load } = input;
  const slots = new PrioritySlots(workers.length);
  const free = [...workers];
  let failure: { error: unknown } | undefined;
  const gates: Gate[] = [];
  const newGate = (): Gate => {
    const g = gate();
    gates.push(g);
    return g;
  };
  const step = (priority: number, fn: (db: W) => Promise<void>): Promise<void> =>
    slots.run(priority, async () => {
      if (failure) return;
      const db = free.pop()!;
      try {
        input.signal?.throwIfAborted();
        await fn(db);
      } catch (error) {
        failure ??= { error };
        for (const g of gates) g.open(); // whatever waits on a gate sees the failure and stops
      } finally {
        free.push(db);
      }
    });

  const tableOf = (o: { database?: string; table?: string }): string => `${o.database}\0${o.table}`;
  const remaining = new Map<string, number>();
  for (const o of data) remaining.set(tableOf(o), (remaining.get(tableOf(o)) ?? 0) + 1);
  const rowsIn = new Map([...remaining.keys()].map((k) => [k, newGate()]));
  const building = new Map([...addKeys.keys()].map((k) => [k, newGate()]));
  const checks = input.checks;
  const monitor = addKeys.size > 0 && checks.length > 0 && input.openMonitor ? await input.openMonitor() : undefined;
  try {
    const steps: Array<Promise<void>> = [];
    // The biggest table's objects first, so that its key build can start as early as possible.
    const tableSize = new Map<string, number>();
    for (const o of data) tableSize.set(tableOf(o), (tableSize.get(tableOf(o)) ?? 0) + o.rawSize);
    const order = [...data].sort((a, b) => tableSize.get(tableOf(b))! - tableSize.get(tableOf(a))! || b.rawSize - a.rawSize);
    for (const o of order) {
      steps.push(
        step(ROWS, async (db) => {
          await load(o, db);
          const left = remaining.get(tableOf(o))! - 1;
          remaining.set(tableOf(o), left);
          if (left === 0) rowsIn.get(tableOf(o))!.open();
        }),
      );
    }
    for (const [table, sql] of addKeys) {
      const underway = building.get(table)!;
      steps.push(
        (async () => {
          await rowsIn.get(table)?.opened;
          await step(KEYS, async (db) => {
            const alter = db.query(sql);
            if (monitor) void whenBuilding(monitor, db.threadId, alter, input.pollMs ?? 100).then(underway.open);
            await alter;
          });
          underway.open();
        })(),
      );
    }
    for (const check of checks) {
      steps.push(
        (async () => {
          await rowsIn.get(tableOf(check))?.opened;
          await building.get(tableOf(check))?.opened;
          await step(CHECKS, () => check.run());
        })(),
      );
    }
    await Promise.all(steps);
  } finally {
    await monitor?.close();
  }
  if (failure) throw failure.error;
}

interface Gate {
  opened: Promise<void>;
  open: () => void;
}

function gate(): Gate {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/**
 * Resolves once the ALTER running on connection `threadId` is in its build stage ('altering
 * table': past the moment it needs the table to itself), or once `alter` has ended, or when the
 * processlist cannot be read. Polled every pollMs.
 */
async function whenBuilding(monitor: LoadWorker, threadId: number, alter: Promise<unknown>, pollMs: number): Promise<void> {
  let ended = false;
  alter.then(
    () => (ended = true),
    () => (ended = true),
  );
  while (!ended) {
    try {
      const [row] = await monitor.query<{ state: string | null }>('SELECT STATE AS state FROM information_schema.PROCESSLIST WHERE ID = ?', [threadId]);
      if (row?.state === 'altering table') return;
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
