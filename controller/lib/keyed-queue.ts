// Work serialised per key: one instance, one pull request, one comment at a time. Different keys run
// concurrently. A failed task never blocks the ones behind it.

export interface KeyedQueue {
  /** Runs fn after everything already queued for `key`. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Like run, for work that only needs to happen once more: while a call for `key` is waiting to
   * start, later calls share it instead of queueing another.
   */
  coalesce(key: string, fn: () => Promise<void>): Promise<void>;
  /** Keys with work running or waiting. */
  busy(): string[];
  /** Resolves once nothing is running or waiting. */
  idle(): Promise<void>;
}

export function createKeyedQueue(): KeyedQueue {
  const tails = new Map<string, Promise<unknown>>();
  const waiting = new Map<string, Promise<void>>();

  function run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = tails.get(key) ?? Promise.resolve();
    const p = prev.then(fn, fn);
    const tail = p.then(
      () => undefined,
      () => undefined,
    );
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return p;
  }

  return {
    run,
    coalesce(key, fn) {
      const pending = waiting.get(key);
      if (pending) return pending;
      const p = run(key, () => {
        waiting.delete(key);
        return fn();
      });
      waiting.set(key, p);
      return p;
    },
    busy: () => [...tails.keys()],
    async idle() {
      while (tails.size) await Promise.all([...tails.values()]);
    },
  };
}
