// How the density series' create time grows with the instances present, for myaas and for the
// plain-command floor measured beside it at each step: each against its own empty-host (n = 0) value,
// so the host's share of the growth (500 idle servers, Docker with 500 containers, the kernel) shows
// apart from myaas's. Pure functions: the report, the target, the chart and the log line use them.
import type { DensityPoint } from './scale.js';

export interface DensityGrowth {
  n: number;
  /** myaas clone-to-ready, median */
  myaasMs: number;
  /** myaasMs / myaas's median on the empty host (NaN without an n = 0 step) */
  myaasX: number;
  /** the floor's clone-to-first-query, median; null where not measured or every run failed */
  floorMs: number | null;
  /** floorMs / the floor's median on the empty host */
  floorX: number | null;
  /** myaasMs / floorMs at this step */
  myaasOverFloor: number | null;
}

const floorMedian = (p: DensityPoint): number | null => {
  const m = p.floor?.create.median;
  return p.floor && p.floor.create.n > 0 && Number.isFinite(m) ? (m as number) : null;
};

const r2 = (x: number) => Math.round(x * 100) / 100;

/** Each step's create times and their ratios to the step with no instances present. */
export function densityGrowth(points: DensityPoint[]): DensityGrowth[] {
  const empty = points.find((p) => p.n === 0);
  const e = empty?.create.median ?? NaN;
  const ef = empty ? floorMedian(empty) : null;
  return points.map((p) => {
    const f = floorMedian(p);
    return {
      n: p.n,
      myaasMs: p.create.median,
      myaasX: r2(p.create.median / e),
      floorMs: f,
      floorX: f !== null && ef ? r2(f / ef) : null,
      myaasOverFloor: f ? r2(p.create.median / f) : null,
    };
  });
}

export const LIMIT = 1.2;

/**
 * One sentence on whether the host or myaas stands between a step and "create ≤ 1.2× empty": the
 * floor's own growth beside myaas's.
 */
export function growthVerdict(g: DensityGrowth, limit = LIMIT): string {
  const x = (v: number) => `${v.toFixed(2)}×`;
  if (!Number.isFinite(g.myaasX)) return 'no empty-host step to compare with';
  if (g.floorX === null) return `myaas ${x(g.myaasX)} of empty; floor not measured`;
  const beyond = r2(g.myaasX / g.floorX);
  if (g.floorX > limit) {
    return g.myaasX <= limit
      ? `myaas ${x(g.myaasX)}, floor ${x(g.floorX)}: within the limit although the host alone grows beyond it`
      : `the host alone grows ${x(g.floorX)} (> ${limit}×), myaas ${x(g.myaasX)}: ${x(beyond)} of the floor's growth`;
  }
  return g.myaasX <= limit
    ? `myaas ${x(g.myaasX)}, floor ${x(g.floorX)}: both within ${limit}×`
    : `the floor stays at ${x(g.floorX)} (≤ ${limit}×) while myaas grows ${x(g.myaasX)}: the growth beyond the floor's is myaas's (${x(beyond)})`;
}

/** "2.5 (waited 40 s)": the load when a step's creates began and whether the bench waited for calm before them. */
export function calmNote(c: DensityPoint['calm']): string {
  if (!c) return '–';
  const wait = !c.checked ? 'quick: no wait' : c.waitedMs < 1000 ? 'no wait' : `waited ${Math.round(c.waitedMs / 1000)} s${c.settled ? '' : ', gave up'}`;
  return `${c.loadAtStart} (${wait})`;
}
