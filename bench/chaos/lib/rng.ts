// The campaign's one source of chance: every choice (which operation, which pull request, how long to
// wait before a kill) comes from a seeded generator, so a run is replayed by its seed. Timing on a busy
// machine still varies, so a replay repeats the same schedule, not necessarily the same interleaving.
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export interface Rng {
  readonly seed: number;
  /** an integer in [from, to] */
  int(from: number, to: number): number;
  chance(p: number): boolean;
  pick<T>(xs: readonly T[]): T;
  /** a new array, shuffled */
  shuffle<T>(xs: readonly T[]): T[];
  /** one of the keys, each with its weight */
  weighted<K extends string>(weights: Record<K, number>): K;
}

export function newSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

export function createRng(seed: number): Rng {
  const g = xoroshiro128plus(seed);
  const int = (from: number, to: number) => uniformInt(g, from, to);
  return {
    seed,
    int,
    chance: (p) => int(0, 999_999) < p * 1_000_000,
    pick: (xs) => xs[int(0, xs.length - 1)],
    shuffle(xs) {
      const a = [...xs];
      for (let i = a.length - 1; i > 0; i--) {
        const j = int(0, i);
        [a[i], a[j]] = [a[j], a[i]];
      }
      return a;
    },
    weighted(weights) {
      const entries = Object.entries(weights) as Array<[keyof typeof weights, number]>;
      const total = entries.reduce((s, [, w]) => s + w, 0);
      let r = int(0, Math.max(0, Math.round(total * 1000) - 1)) / 1000;
      for (const [k, w] of entries) {
        if (r < w) return k;
        r -= w;
      }
      return entries[entries.length - 1][0];
    },
  };
}
