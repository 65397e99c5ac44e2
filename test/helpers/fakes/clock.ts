// A clock the test drives: time moves only when someone sleeps (by exactly that long) or the test
// advances it. No test waits on the wall clock.
import type { Clock } from '../../../controller/lib/clock.js';

export interface FakeClock extends Clock {
  /** every sleep asked for, in order */
  sleeps: number[];
  advance(ms: number): void;
}

export function createFakeClock(start = Date.parse('2026-01-01T00:00:00Z')): FakeClock {
  let t = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    async sleep(ms) {
      sleeps.push(ms);
      t += Math.max(0, ms);
      await Promise.resolve();
    },
    advance(ms) {
      t += ms;
    },
  };
}
