/**
 * Runs `fn` over `items`, one call in flight per worker (a connection, or just a slot), items
 * taken in order. After the first failure no new item starts; every running call settles
 * before that first error is thrown, so a caller's clean-up never races a worker.
 */
export async function forEachWithWorkers<W, T>(workers: readonly W[], items: readonly T[], fn: (item: T, worker: W) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  await Promise.all(
    workers.map(async (worker) => {
      while (next < items.length && !failure) {
        const item = items[next++]!;
        try {
          await fn(item, worker);
        } catch (error) {
          failure ??= { error };
        }
      }
    }),
  );
  if (failure) throw failure.error;
}

/** forEachWithWorkers with `limit` anonymous slots. */
export function forEachConcurrently<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const slots = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, (_, i) => i);
  return forEachWithWorkers(slots, items, (item) => fn(item));
}

/** The results of `fn` over `items`, in order, at most `limit` at a time. */
export async function mapConcurrently<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  await forEachConcurrently([...items.keys()], limit, async (i) => {
    out[i] = await fn(items[i]!);
  });
  return out;
}

/**
 * At most `limit` calls run at once; a waiting call with a lower `priority` starts before one
 * with a higher, and equal priorities start in the order they asked.
 */
export class PrioritySlots {
  #free: number;
  #waiting: Array<{ priority: number; seq: number; start: () => void }> = [];
  #seq = 0;

  constructor(limit: number) {
    this.#free = Math.max(1, limit);
  }

  async run<T>(priority: number, fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) {
      this.#free--;
    } else {
      await new Promise<void>((start) => {
        this.#waiting.push({ priority, seq: this.#seq++, start });
        this.#waiting.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
      });
    }
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next.start();
      else this.#free++;
    }
  }
}
