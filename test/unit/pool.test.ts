import test from 'ava';
import { forEachWithWorkers, PrioritySlots } from '../../src/util/pool.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('PrioritySlots: never more than the limit at once; a waiting lower priority starts first, equal ones in order', async (t) => {
  const slots = new PrioritySlots(2);
  const started: string[] = [];
  let running = 0;
  let most = 0;
  const release = new Map<string, () => void>();
  const job = (name: string, priority: number): Promise<void> =>
    slots.run(priority, async () => {
      started.push(name);
      running++;
      most = Math.max(most, running);
      await new Promise<void>((resolve) => release.set(name, resolve));
      running--;
    });
  const all = [job('a', 1), job('b', 1), job('c', 2), job('d', 1), job('e', 0), job('f', 2)];
  await tick();
  t.deepEqual(started, ['a', 'b'], 'the first two take the free slots whatever their priority');
  release.get('a')!();
  await tick();
  t.deepEqual(started, ['a', 'b', 'e'], 'priority 0 jumps the queue');
  for (const next of ['b', 'e', 'd', 'c']) {
    release.get(next)!();
    await tick();
  }
  t.deepEqual(started, ['a', 'b', 'e', 'd', 'c', 'f']);
  release.get('f')!();
  await Promise.all(all);
  t.is(most, 2);
});

test('PrioritySlots: a failing call frees its slot and rejects to its caller only', async (t) => {
  const slots = new PrioritySlots(1);
  const failing = slots.run(0, async () => {
    throw new Error('boom');
  });
  const after = slots.run(1, async () => 'ran');
  await t.throwsAsync(failing, { message: 'boom' });
  t.is(await after, 'ran');
});

test('forEachWithWorkers: after the first failure nothing new starts, and it throws once the running calls settle', async (t) => {
  const seen: number[] = [];
  let settled = 0;
  const error = await t.throwsAsync(
    forEachWithWorkers([1, 2], [1, 2, 3, 4, 5], async (item) => {
      seen.push(item);
      if (item === 1) throw new Error('first');
      await tick();
      settled++;
    }),
  );
  t.is(error?.message, 'first');
  t.deepEqual(seen, [1, 2]);
  t.is(settled, 1, 'the call running beside the failure finished before the throw');
});
