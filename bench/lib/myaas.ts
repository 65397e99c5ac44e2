// Measurements through the controller's HTTP API, as a user (or the Action) would do them:
// create with ?wait, connect and query; reset; destroy; many at once; memory and disk of one.
import os from 'node:os';
import { join } from 'node:path';
import { firstQuery, sampleQuery } from './clients.js';
import type { BenchController, ReadyTimings, Span } from './harness.js';
import type { SizeSpec } from './options.js';
import { diskProbe, memoryOf } from './resources.js';
import { calm, fmtMs, round1, say, sleep, stats, type Stats } from './util.js';

export interface CloneRun {
  /** POST /instances?wait until the first query on the returned URL succeeded */
  totalMs: number;
  /** the POST alone */
  apiMs: number;
  /** connect + authenticate + first query from the client */
  clientMs: number;
  retries: number;
  controller: ReadyTimings | null;
  /** time spent in calls to storage, Docker and the state DB during the request, by call */
  calls: Record<string, { ms: number; n: number }>;
  resetMs: number;
  resetController: ReadyTimings | null;
  resetWiped: boolean;
  destroyMs: number;
}

export interface CloneResult {
  driver: string;
  size: string;
  runs: CloneRun[];
  warmup: CloneRun | null;
  /** 1-minute load average of the machine before and after the series (other work shares the cores) */
  load: [number, number];
  stats: { total: Stats; api: Stats; client: Stats; reset: Stats; destroy: Stats; clone: Stats; start: Stats; rotate: Stats; probe: Stats };
}

function callsOf(spans: Span[], from: number, to: number): CloneRun['calls'] {
  const out: CloneRun['calls'] = {};
  for (const s of spans) {
    if (s.start < from || s.end > to) continue;
    const c = (out[s.name] ??= { ms: 0, n: 0 });
    c.ms = round1(c.ms + s.end - s.start);
    c.n++;
  }
  return out;
}

export async function createReady(bc: BenchController, template: string, name: string, waitSeconds = 60): Promise<{ id: string; url: string; apiMs: number }> {
  const r = await bc.api('POST', `/api/v1/instances?wait=${waitSeconds}`, { template, name });
  if (r.status !== 201 || r.body?.status !== 'ready' || !r.body.connection?.url) {
    throw new Error(`create ${name}: HTTP ${r.status} ${JSON.stringify({ status: r.body?.status, error: r.body?.error ?? r.body?.['error'] })}`);
  }
  return { id: r.body.id, url: r.body.connection.url, apiMs: r.ms };
}

export async function destroy(bc: BenchController, id: string, waitSeconds = 60): Promise<number> {
  const r = await bc.api('DELETE', `/api/v1/instances/${id}?wait=${waitSeconds}`);
  if (r.status !== 200 || r.body?.status !== 'destroyed') throw new Error(`destroy ${id}: HTTP ${r.status} ${r.body?.status}`);
  return r.ms;
}

export type ColdRun = Pick<CloneRun, 'totalMs' | 'apiMs' | 'clientMs' | 'retries' | 'controller' | 'calls'> & { id: string; url: string };

/** One create through the API until the first query on the returned URL succeeded, with the controller's timings and calls. */
export async function cloneToReady(bc: BenchController, s: SizeSpec, name: string): Promise<ColdRun> {
  const q = sampleQuery(s.engine);
  bc.spans = [];
  bc.recording = true;
  const t0 = performance.now();
  const { id, url, apiMs } = await createReady(bc, s.template, name);
  const t1 = performance.now();
  const first = await firstQuery(url, q);
  const t2 = performance.now();
  bc.recording = false;
  const calls = callsOf(bc.spans, t0, t2);
  // A warm instance was provisioned before this request: its `instance ready` line is not this run's.
  const logged = bc.ready.get(id);
  const controller = logged && logged.at >= t0 ? logged : null;
  bc.ready.delete(id);
  return { id, url, totalMs: round1(t2 - t0), apiMs: round1(apiMs), clientMs: round1(t2 - t1), retries: first.retries, controller, calls };
}

async function oneRun(bc: BenchController, s: SizeSpec, name: string): Promise<CloneRun> {
  const { id, url, ...cold } = await cloneToReady(bc, s, name);
  // Reset: a write must be gone afterwards, on the same URL (same port and password).
  await firstQuery(url, 'CREATE TABLE bench_marker (id int)');
  const r0 = performance.now();
  const rr = await bc.api('POST', `/api/v1/instances/${id}/reset?wait=60`);
  if (rr.body?.status !== 'ready') throw new Error(`reset ${name}: HTTP ${rr.status} ${rr.body?.status} ${rr.body?.error ?? ''}`);
  const check =
    s.engine === 'postgres'
      ? "select count(*)::int from pg_class where relname = 'bench_marker'"
      : "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'bench_marker'";
  const after = await firstQuery(url, check);
  const resetMs = performance.now() - r0;
  const resetController = bc.ready.get(id) ?? null;
  bc.ready.delete(id);
  const destroyMs = await destroy(bc, id);
  return {
    ...cold,
    resetMs: round1(resetMs), resetController, resetWiped: Number(after.value) === 0, destroyMs: round1(destroyMs),
  };
}

/** `before`: awaited before every run (e.g. until the warm pool has refilled). */
export async function measureCloneToReady(bc: BenchController, s: SizeSpec, runs: number, before: () => Promise<unknown> = async () => {}): Promise<CloneResult> {
  const tag = `${s.id} ${bc.driver}`;
  await calm();
  const load0 = os.loadavg()[0];
  await before();
  const warmup = await oneRun(bc, s, `b-${s.id}-first`);
  say(`${tag}: warm-up ${fmtMs(warmup.totalMs)} (not counted)`);
  const list: CloneRun[] = [];
  for (let i = 0; i < runs; i++) {
    await before();
    const r = await oneRun(bc, s, `b-${s.id}-${i}`);
    list.push(r);
    const c = r.controller;
    const parts = c
      ? `clone ${c.cloneMs} ms, start ${c.startMs} ms, ready+rotate ${c.rotateMs} ms, probe ${c.probeMs} ms, API ${Math.round(r.apiMs - c.totalMs)} ms`
      : `no provisioning: POST ${Math.round(r.apiMs)} ms`;
    say(
      `${tag}: clone-to-ready ${i + 1}/${runs}: ${fmtMs(r.totalMs)} (${parts}, client ${Math.round(r.clientMs)} ms); ` +
        `reset ${fmtMs(r.resetMs)}${r.resetWiped ? '' : ' (WRITE SURVIVED RESET)'}; destroy ${fmtMs(r.destroyMs)}`,
    );
  }
  const pick = (f: (r: CloneRun) => number | undefined) => list.map(f).filter((x): x is number => typeof x === 'number');
  const st = {
    total: stats(pick((r) => r.totalMs)),
    api: stats(pick((r) => r.apiMs)),
    client: stats(pick((r) => r.clientMs)),
    reset: stats(pick((r) => r.resetMs)),
    destroy: stats(pick((r) => r.destroyMs)),
    clone: stats(pick((r) => r.controller?.cloneMs)),
    start: stats(pick((r) => r.controller?.startMs)),
    rotate: stats(pick((r) => r.controller?.rotateMs)),
    probe: stats(pick((r) => r.controller?.probeMs)),
  };
  say(`${tag}: clone-to-ready min ${fmtMs(st.total.min)}, median ${fmtMs(st.total.median)}, p95 ${fmtMs(st.total.p95)}; reset median ${fmtMs(st.reset.median)}; destroy median ${fmtMs(st.destroy.median)}`);
  return { driver: bc.driver, size: s.id, runs: list, warmup, load: [round1(load0), round1(os.loadavg()[0])], stats: st };
}

export interface ConcurrencyResult {
  driver: string;
  size: string;
  n: number;
  /** from the first request to the last instance answering a query */
  allReadyMs: number;
  perInstanceMs: number[];
  idleRssBytes: Stats;
  destroyAllMs: number;
}

export async function measureConcurrency(bc: BenchController, s: SizeSpec, n: number): Promise<ConcurrencyResult> {
  const q = sampleQuery(s.engine);
  await calm();
  const t0 = performance.now();
  const made = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const inst = await createReady(bc, s.template, `b-conc-${i}`);
      await firstQuery(inst.url, q);
      return { id: inst.id, ms: performance.now() - t0 };
    }),
  );
  const allReadyMs = Math.max(...made.map((m) => m.ms));
  say(`${s.id} ${bc.driver}: ${n} concurrent creates all accepting queries after ${fmtMs(allReadyMs)}`);
  await sleep(5000);
  const rss: number[] = [];
  for (const m of made) {
    const i = await bc.controller.store.getInstance(m.id);
    const mem = i?.containerId ? await memoryOf(i.containerId) : null;
    if (mem) rss.push(mem.usedBytes);
  }
  const d0 = performance.now();
  await Promise.all(made.map((m) => destroy(bc, m.id)));
  const destroyAllMs = performance.now() - d0;
  say(`${s.id} ${bc.driver}: destroying all ${n} took ${fmtMs(destroyAllMs)}`);
  return {
    driver: bc.driver, size: s.id, n, allReadyMs: round1(allReadyMs),
    perInstanceMs: made.map((m) => round1(m.ms)).sort((a, b) => a - b), idleRssBytes: stats(rss), destroyAllMs: round1(destroyAllMs),
  };
}

export interface ResourceResult {
  driver: string;
  size: string;
  memory: Awaited<ReturnType<typeof memoryOf>>;
  disk: Awaited<ReturnType<ReturnType<typeof diskProbe>['after']>>;
}

/** One instance, idle for 5 s after its first query: container memory and the disk its clone added. */
export async function measureResources(bc: BenchController, s: SizeSpec): Promise<ResourceResult> {
  const probe = diskProbe(bc.storage, bc.dataDir);
  await probe.before();
  const inst = await createReady(bc, s.template, `b-${s.id}-res`);
  await firstQuery(inst.url, sampleQuery(s.engine));
  await sleep(5000);
  const rec = await bc.controller.store.getInstance(inst.id);
  const memory = rec?.containerId ? await memoryOf(rec.containerId) : null;
  const disk = await probe.after(join(bc.dataDir, 'instances', inst.id));
  await destroy(bc, inst.id);
  return { driver: bc.driver, size: s.id, memory, disk };
}
