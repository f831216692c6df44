import test from 'ava';
import { chunkRanges } from '../../src/dump/chunks.js';

test('a table that fits one chunk is one chunk with no condition', (t) => {
  t.deepEqual(chunkRanges('id', 1n, 1000n, 1000, 5000), [{ chunk: 1, where: null, weight: 1000 }]);
});

test('ranges split the key space evenly, open at both ends', (t) => {
  const plan = chunkRanges('id', 1n, 1_000_000n, 1_000_000, 250_000);
  t.deepEqual(plan.map((c) => c.where), ['`id` < 250001', '`id` >= 250001 AND `id` < 500001', '`id` >= 500001 AND `id` < 750001', '`id` >= 750001']);
  t.deepEqual(plan.map((c) => c.chunk), [1, 2, 3, 4]);
  t.true(plan.every((c) => c.weight === 250_000));
});

test('every key between the bounds, and beyond them, falls in exactly one range', (t) => {
  const plan = chunkRanges('id', 17n, 9_999n, 50_000, 7_000);
  const inRange = (where: string, v: bigint): boolean =>
    where.split(' AND ').every((cond) => {
      const m = /^`id` (>=|<) (\d+)$/.exec(cond)!;
      return m[1] === '>=' ? v >= BigInt(m[2]!) : v < BigInt(m[2]!);
    });
  for (const v of [-5n, 0n, 17n, 18n, 1000n, 5000n, 9_999n, 10_000n, 10n ** 12n]) {
    t.is(plan.filter((c) => inRange(c.where!, v)).length, 1, `key ${v}`);
  }
});

test('a key space smaller than the number of chunks is one chunk', (t) => {
  t.is(chunkRanges('id', 1n, 3n, 1_000_000, 1000).length, 1);
});

test('column names are quoted', (t) => {
  t.is(chunkRanges('we`ird', 0n, 99n, 100, 50)[0]!.where, '`we``ird` < 50');
});
