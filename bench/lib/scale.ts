// Many instances: N requested at once (all must succeed; time until the last answers a query), and
// density (with N instances present: create time, list latency, one reconcile pass and its Docker
// calls, the process's memory and CPU at idle).
import os from 'node:os';
import { firstQuery, sampleQuery } from './clients.js';
import type { BenchController } from './harness.js';
import { cloneToReady, createReady, destroy } from './myaas.js';
import type { SizeSpec } from './options.js';
import type { FloorRig } from './floor.js';
import { densityGrowth } from './density-growth.js';
import { calm, calmLimit, calmStep, fmtBytes, fmtMs, round1, say, sleep, stats, type Stats } from './util.js';

/** Error messages with how often each occurred, most frequent first. */
export function tally(errors: string[]): Array<{ error: string; n: number }> {
  const m = new Map<string, number>();
  for (const e of errors) m.set(e, (m.get(e) ?? 0) + 1);
  return [...m.entries()].map(([error, n]) => ({ error, n })).sort((a, b) => b.n - a.n);
}

const why = (e: unknown) => ((e as Error)?.message ?? String(e)).split('\n')[0].slice(0, 300);

/** Destroys `ids`, `batch` at a time; resolves with the wall time and the failures. */
async function destroyAll(bc: BenchController, ids: string[], batch = 20): Promise<{ ms: number; errors: string[] }> {
  const t0 = performance.now();
  const errors: string[] = [];
  for (let i = 0; i < ids.length; i += batch) {
    const rs = await Promise.allSettled(ids.slice(i, i + batch).map((id) => destroy(bc, id, 120)));
    for (const r of rs) if (r.status === 'rejected') errors.push(why(r.reason));
  }
  return { ms: round1(performance.now() - t0), errors };
}

/** Live instances whose names start with `prefix` (also those a failed create left behind). */
async function liveNamed(bc: BenchController, prefix: string): Promise<string[]> {
  return (await bc.controller.store.listLive()).filter((i) => i.name.startsWith(prefix)).map((i) => i.id);
}

export interface ConcurrencyPoint {
  n: number;
  /** from the first request until the last successful instance answered a query */
  allReadyMs: number;
  ok: number;
  failed: number;
  errors: Array<{ error: string; n: number }>;
  perInstance: Stats;
  destroyAllMs: number;
  /**
   * The floor at the same N: N plain-command clone-to-queries (btrfs snapshot, docker create, start,
   * inspect, first query; floor.ts) started at once, until the last query answered. What the machine
   * itself (Docker, the CPU, the pool) allows for N at once; null where not measured.
   */
  floorAllMs?: number | null;
}

export interface ConcurrencySeriesResult {
  series: string;
  size: string;
  /** single cold clone-to-ready runs (create, first query, destroy), one after another */
  single: Stats;
  points: ConcurrencyPoint[];
}

async function atOnce(bc: BenchController, s: SizeSpec, n: number): Promise<ConcurrencyPoint> {
  const q = sampleQuery(s.engine);
  const prefix = `b-cs${n}-`;
  await calmStep();
  const t0 = performance.now();
  // ?wait long enough for the last of a queue: queueing is allowed, failing is not.
  const rs = await Promise.allSettled(
    Array.from({ length: n }, async (_, i) => {
      const inst = await createReady(bc, s.template, `${prefix}${i}`, 600);
      await firstQuery(inst.url, q);
      return performance.now() - t0;
    }),
  );
  const ms = rs.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const errors = rs.flatMap((r) => (r.status === 'rejected' ? [why(r.reason)] : []));
  const allReadyMs = round1(ms.length ? Math.max(...ms) : performance.now() - t0);
  say(`${s.id} ${bc.driver}: ${n} at once: ${ms.length} ready, the last after ${fmtMs(allReadyMs)}${errors.length ? `; ${errors.length} FAILED: ${tally(errors)[0].error}` : ''}`);
  const gone = await destroyAll(bc, await liveNamed(bc, prefix));
  say(`${s.id} ${bc.driver}: destroying the ${n} took ${fmtMs(gone.ms)}${gone.errors.length ? ` (${gone.errors.length} failed: ${gone.errors[0]})` : ''}`);
  return { n, allReadyMs, ok: ms.length, failed: errors.length, errors: tally(errors), perInstance: stats(ms), destroyAllMs: gone.ms };
}

/** N plain-command clone-to-queries at once (the floor's "bridge + published port"): until the last query. */
async function floorAtOnce(rig: FloorRig, n: number, base: number): Promise<{ allMs: number; failed: number }> {
  await calmStep();
  const rs = await Promise.allSettled(Array.from({ length: n }, (_, i) => rig.run('bridge + published port', base + i)));
  const ok = rs.flatMap((r) => (r.status === 'fulfilled' ? [r.value.totalMs] : []));
  return { allMs: round1(ok.length ? Math.max(...ok) : NaN), failed: rs.length - ok.length };
}

export async function measureConcurrencySeries(
  bc: BenchController, s: SizeSpec, ns: number[], singleRuns = 3, floor?: { rig: FloorRig },
): Promise<ConcurrencySeriesResult> {
  await calm();
  const w = await cloneToReady(bc, s, `b-cs-single-w`);
  await destroy(bc, w.id);
  const single: number[] = [];
  for (let i = 0; i < singleRuns; i++) {
    const r = await cloneToReady(bc, s, `b-cs-single-${i}`);
    await destroy(bc, r.id);
    single.push(r.totalMs);
  }
  const st = stats(single);
  say(`${s.id} ${bc.driver}: single cold clone-to-ready median ${fmtMs(st.median)} (${singleRuns} runs)`);
  const points: ConcurrencyPoint[] = [{ n: 1, allReadyMs: st.median, ok: singleRuns, failed: 0, errors: [], perInstance: st, destroyAllMs: NaN }];
  for (const n of ns.filter((x) => x > 1)) {
    const point = await atOnce(bc, s, n);
    if (floor) {
      const f = await floorAtOnce(floor.rig, n, n * 1000);
      point.floorAllMs = f.failed ? null : f.allMs;
      say(`${s.id} floor: ${n} at once with plain commands: the last query after ${fmtMs(f.allMs)}${f.failed ? ` (${f.failed} failed)` : ''}; myaas ${fmtMs(point.allReadyMs)}`);
    }
    points.push(point);
  }
  return { series: bc.driver, size: s.id, single: st, points };
}

export interface DensityPoint {
  /** instances present (ready) while measured */
  n: number;
  /** clone-to-ready of one more instance (destroyed again) */
  create: Stats;
  /** GET /api/v1/instances: first page (default limit), every page following Link, filtered first pages */
  list: { firstPage: Stats; allPages: Stats; pages: number; byTemplate: Stats; byOwner: Stats; byStatus: Stats };
  /** one reconcile sweep (controller.sweep(): orphans, expiry, convergence of every live instance) */
  pass: Stats;
  /** calls into Docker (the runtime adapter) and the state DB per sweep, mean */
  callsPerPass: { docker: number; statedb: number; byName: Record<string, number> };
  /** the bench process (the in-process controller plus the bench's idle client) after the idle window */
  rssBytes: number;
  heapUsedBytes: number;
  /** CPU of the bench process over the idle window, % of one core */
  idleCpuPercent: number;
  idleWindowMs: number;
  /** 1-minute load average at the end of the step (after the idle window) */
  load: number;
  /**
   * The plain-command floor at this step, with the same n instances present: btrfs snapshot, docker
   * create, start, inspect, first query over a published port (floor.ts), `creates` runs interleaved
   * with myaas's, each removed again. Absent in results written before it was measured.
   */
  floor?: { create: Stats; errors: Array<{ error: string; n: number }> };
  /** how settled the machine was when the step's creates began */
  calm?: {
    /** 1-minute load average when the creates began (after any wait) */
    loadAtStart: number;
    /** how long the bench waited for the load to fall to the number of cores before the step */
    waitedMs: number;
    /** false: a quick run, which does not wait at each step */
    checked: boolean;
    /** the load was at most the number of cores when the creates began */
    settled: boolean;
    cores: number;
  };
  /** creates that failed while filling up to n */
  fillErrors: Array<{ error: string; n: number }>;
}

export interface DensityResult {
  series: string;
  size: string;
  batch: number;
  points: DensityPoint[];
  /** destroying all of them at the end, `batch` at a time */
  destroyAllMs: number;
  destroyErrors: Array<{ error: string; n: number }>;
}

async function timedGet(bc: BenchController, path: string, reps: number): Promise<Stats> {
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const r = await bc.api('GET', path);
    if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    ms.push(r.ms);
  }
  return stats(ms);
}

/** Every page of the list, following the Link header; resolves with the time and the number of pages. */
async function allPages(bc: BenchController): Promise<{ ms: number; pages: number; rows: number }> {
  const t0 = performance.now();
  let path: string | null = '/api/v1/instances';
  let pages = 0;
  let rows = 0;
  while (path) {
    const r: { status: number; body: unknown[]; link: string | null } = await bc.api('GET', path);
    if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status}`);
    pages++;
    rows += r.body.length;
    path = r.link ? (/<([^>]+)>;\s*rel="next"/.exec(r.link)?.[1] ?? null) : null;
  }
  return { ms: performance.now() - t0, pages, rows };
}

async function measurePoint(
  bc: BenchController, s: SizeSpec, n: number, creates: number, idleMs: number, fillErrors: string[], rig: FloorRig | undefined,
): Promise<DensityPoint> {
  const waitedMs = await calmStep();
  const cores = os.cpus().length;
  const loadAtStart = round1(os.loadavg()[0]);
  const create: number[] = [];
  const floorMs: number[] = [];
  const floorErrors: string[] = [];
  const mine = async (i: number) => {
    const r = await cloneToReady(bc, s, `b-dn-probe-${n}-${i}`);
    await destroy(bc, r.id);
    create.push(r.totalMs);
  };
  const floor = async (i: number) => {
    if (!rig) return;
    try {
      floorMs.push((await rig.run('bridge + published port', n * 1000 + i)).totalMs);
    } catch (e) {
      floorErrors.push(why(e));
    }
  };
  // Interleaved, the order alternating, so both see the same machine and neither always follows the other's removal.
  for (let i = 0; i < creates; i++) {
    if (i % 2 === 0) {
      await mine(i);
      await floor(i);
    } else {
      await floor(i);
      await mine(i);
    }
  }
  const reps = 5;
  const pagesRuns = [await allPages(bc), await allPages(bc), await allPages(bc)];
  const list = {
    firstPage: await timedGet(bc, '/api/v1/instances', reps),
    allPages: stats(pagesRuns.map((p) => p.ms)),
    pages: pagesRuns[0].pages,
    byTemplate: await timedGet(bc, `/api/v1/instances?template=${encodeURIComponent(s.template)}`, reps),
    byOwner: await timedGet(bc, `/api/v1/instances?owner=${encodeURIComponent('api:b-dn-0')}`, reps),
    byStatus: await timedGet(bc, '/api/v1/instances?status=ready', reps),
  };
  const pass: number[] = [];
  const calls: Array<Record<string, number>> = [];
  for (let i = 0; i < 3; i++) {
    bc.spans = [];
    bc.recording = true;
    const t0 = performance.now();
    await bc.controller.sweep();
    pass.push(performance.now() - t0);
    bc.recording = false;
    const by: Record<string, number> = {};
    for (const sp of bc.spans) by[sp.name] = (by[sp.name] ?? 0) + 1;
    calls.push(by);
  }
  const names = [...new Set(calls.flatMap((c) => Object.keys(c)))];
  const byName = Object.fromEntries(names.map((k) => [k, round1(calls.reduce((a, c) => a + (c[k] ?? 0), 0) / calls.length)]));
  const sum = (prefix: string) => round1(names.filter((k) => k.startsWith(prefix)).reduce((a, k) => a + byName[k], 0));
  // Idle: nothing asked of the controller; its timers, Docker's event stream and the bench's own idle loop run.
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  await sleep(idleMs);
  const c1 = process.cpuUsage(c0);
  const wall = performance.now() - w0;
  const mem = process.memoryUsage();
  const p: DensityPoint = {
    n, create: stats(create), list, pass: stats(pass), callsPerPass: { docker: sum('docker.'), statedb: sum('statedb.'), byName },
    rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, idleCpuPercent: round1(((c1.user + c1.system) / 1000 / wall) * 100), idleWindowMs: round1(wall),
    load: round1(os.loadavg()[0]), fillErrors: tally(fillErrors),
    ...(rig ? { floor: { create: stats(floorMs), errors: tally(floorErrors) } } : {}),
    calm: { loadAtStart, waitedMs, checked: calmLimit.eachStep, settled: loadAtStart <= cores, cores },
  };
  say(
    `${s.id} density n=${n}: create median ${fmtMs(p.create.median)}${rig ? `, floor ${fmtMs(p.floor!.create.median)}${floorErrors.length ? ` (${floorErrors.length} failed: ${floorErrors[0]})` : ''}` : ''}; list first page ${fmtMs(list.firstPage.median)}, all ${list.pages} pages ${fmtMs(list.allPages.median)}, ` +
      `by template ${fmtMs(list.byTemplate.median)}, owner ${fmtMs(list.byOwner.median)}, status ${fmtMs(list.byStatus.median)}; ` +
      `sweep ${fmtMs(p.pass.median)} with ${p.callsPerPass.docker} Docker calls; RSS ${fmtBytes(p.rssBytes)}, idle CPU ${p.idleCpuPercent}%`,
  );
  return p;
}

/** The step's create times beside the floor's, each against its own empty-host value, and the load: one log line. */
function growthLine(s: SizeSpec, points: DensityPoint[]): string {
  const g = densityGrowth(points)[points.length - 1];
  const p = points[points.length - 1];
  const x = (v: number | null) => (v === null || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(2)}×`);
  const c = p.calm;
  return (
    `${s.id} density n=${p.n}: create myaas ${fmtMs(g.myaasMs)} (${x(g.myaasX)} empty), floor ${g.floorMs === null ? 'n/a' : fmtMs(g.floorMs)} (${x(g.floorX)} empty), ` +
    `myaas / floor ${x(g.myaasOverFloor)}; load ${c?.loadAtStart} at start, ${p.load} at end${c ? `, ${c.checked ? `waited ${fmtMs(c.waitedMs)} for calm` : 'no calm wait (quick)'}` : ''}`
  );
}

/**
 * Fills the host to each step (batch at a time, create ?wait), measures, and destroys everything at the end.
 * With a floor rig, each step also times the plain-command floor beside myaas's creates.
 */
export async function measureDensity(
  bc: BenchController, s: SizeSpec, steps: number[], o: { creates: number; idleMs: number; batch: number }, floor?: { rig: FloorRig },
): Promise<DensityResult> {
  const present: string[] = [];
  const points: DensityPoint[] = [];
  let made = 0;
  let gone: { ms: number; errors: string[] } = { ms: NaN, errors: [] };
  try {
    // Not counted: the first of each after the controller started (page cache, Docker's first network set-up),
    // which would otherwise inflate the empty host's value that every step is compared with.
    const w = await cloneToReady(bc, s, 'b-dn-warm');
    await destroy(bc, w.id);
    await floor?.rig.run('bridge + published port', 1e9).catch((e) => say(`${s.id} density: the floor's warm-up run failed: ${why(e)}`));
    for (const n of steps) {
      const errors: string[] = [];
      const t0 = performance.now();
      while (present.length < n && errors.length < Math.max(10, n / 10)) {
        const k = Math.min(o.batch, n - present.length);
        const rs = await Promise.allSettled(Array.from({ length: k }, () => createReady(bc, s.template, `b-dn-${made++}`, 300)));
        for (const r of rs) {
          if (r.status === 'fulfilled') present.push(r.value.id);
          else errors.push(why(r.reason));
        }
      }
      if (present.length < n) say(`${s.id} density: only ${present.length} of ${n} instances could be made: ${tally(errors)[0]?.error}`);
      else if (n) say(`${s.id} density: ${n} instances present (filled in ${fmtMs(performance.now() - t0)})`);
      await sleep(2000);
      points.push(await measurePoint(bc, s, present.length, o.creates, o.idleMs, errors, floor?.rig));
      say(growthLine(s, points));
    }
  } finally {
    gone = await destroyAll(bc, await liveNamed(bc, 'b-dn-'), o.batch);
    say(`${s.id} density: destroying ${present.length} instances, ${o.batch} at a time, took ${fmtMs(gone.ms)}`);
  }
  return { series: bc.driver, size: s.id, batch: o.batch, points, destroyAllMs: gone.ms, destroyErrors: tally(gone.errors) };
}
