import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ManifestObject } from '../../src/format/manifest.js';
import { runLoadSchedule, type LoadWorker, type RowCheck } from '../../src/load/schedule.js';

/** Workers that record what they do; an ALTER takes a while and shows 'altering table' meanwhile. */
function fakeWorkers(n: number, log: string[]) {
  const altering = new Set<number>();
  const workers: Array<LoadWorker & { name: string }> = Array.from({ length: n }, (_, i) => ({
    name: `w${i + 1}`,
    threadId: i + 1,
    async query<T>(sql: string): Promise<T[]> {
      log.push(`start ${sql}`);
      altering.add(i + 1);
      await sleep(40);
      altering.delete(i + 1);
      log.push(`end ${sql}`);
      return [];
    },
  }));
  const monitor = {
    threadId: 99,
    async query<T>(_sql: string, values?: unknown[]): Promise<T[]> {
      return [{ state: altering.has(values?.[0] as number) ? 'altering table' : null }] as T[];
    },
    close: async () => {},
  };
  return { workers, monitor };
}

const data = (table: string, chunk: number, rawSize: number): ManifestObject => ({ name: `${table}.${chunk}`, role: 'data', database: 'db', table, chunk, size: 1, sha256: 'x', rawSize });

test('the biggest table first; its keys as soon as its rows are in, ahead of other rows; checks after rows and under way builds', async (t) => {
  const log: string[] = [];
  const { workers, monitor } = fakeWorkers(2, log);
  const objects = [data('small', 1, 10), data('big', 1, 100), data('big', 2, 100), data('big', 3, 100), data('other', 1, 20), data('other2', 1, 20)];
  const checks: RowCheck[] = ['big', 'small'].map((table) => ({ database: 'db', table, run: async () => void log.push(`check ${table}`) }));
  await runLoadSchedule({
    workers,
    data: objects,
    addKeys: new Map([['db\0big', 'ALTER big']]),
    load: async (o) => {
      log.push(`load ${o.name}`);
      await sleep(20);
      log.push(`loaded ${o.name}`);
    },
    checks,
    openMonitor: async () => monitor,
    pollMs: 5,
  });
  const at = (entry: string) => log.indexOf(entry);
  for (const o of objects) t.is(log.filter((l) => l === `load ${o.name}`).length, 1, `${o.name} loaded once`);
  t.true(log.slice(0, 2).every((l) => l.startsWith('load big.')), 'the biggest table starts');
  t.true(at('start ALTER big') > Math.max(at('loaded big.1'), at('loaded big.2'), at('loaded big.3')), 'keys after every row of the table');
  const rowsAfterBigIn = log.slice(at('loaded big.3')).filter((l) => l.startsWith('load '));
  t.true(at('start ALTER big') < at(rowsAfterBigIn[1] ?? 'end ALTER big'), 'the key build goes ahead of the rows still waiting');
  t.true(at('check big') > at('start ALTER big'), 'a table is checked once its build is under way');
  t.true(at('check small') > at('loaded small.1'));
});

test('after the first failure nothing new starts; it is thrown once the running steps end', async (t) => {
  const log: string[] = [];
  const { workers } = fakeWorkers(2, log);
  const objects = Array.from({ length: 8 }, (_, i) => data('t', i + 1, 100 - i));
  let running = 0;
  const err = await t.throwsAsync(
    runLoadSchedule({
      workers,
      data: objects,
      addKeys: new Map(),
      load: async (o) => {
        running++;
        log.push(`load ${o.name}`);
        try {
          await sleep(o.chunk === 2 ? 5 : 30);
          if (o.chunk === 2) throw new Error('bad object t.2');
        } finally {
          running--;
        }
      },
      checks: [{ database: 'db', table: 't', run: async () => void log.push('check t') }],
    }),
  );
  t.is(err?.message, 'bad object t.2');
  t.is(running, 0, 'no step still running');
  t.true(log.filter((l) => l.startsWith('load ')).length <= 3, log.join(', '));
  t.false(log.includes('check t'));
});

test('an abort stops the schedule', async (t) => {
  const { workers } = fakeWorkers(1, []);
  const ac = new AbortController();
  ac.abort(new Error('SIGTERM'));
  await t.throwsAsync(runLoadSchedule({ workers, data: [data('t', 1, 1)], addKeys: new Map(), load: async () => {}, checks: [], signal: ac.signal }), { message: 'SIGTERM' });
});
