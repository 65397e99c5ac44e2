// Idle suspension (MYAAS_IDLE_SUSPEND), on a controller variant with a short idle time:
//   1. wake-to-first-query: one connection attempt (no retry) with the client library to a suspended
//      instance's unchanged URL and one query, per engine; beside it the same on the running instance
//      (the direct path, no proxy);
//   2. memory of N instances (half of each engine) all running, each held busy by an open connection,
//      then with all but two suspended; the bench process's RSS beside.
import { holdConnection, queryOnce, sampleQuery, firstQuery } from './clients.js';
import type { BenchController } from './harness.js';
import { createReady, destroy } from './myaas.js';
import type { SizeSpec } from './options.js';
import { tally } from './scale.js';
import { fmtBytes, fmtMs, round1, say, sleep, stats, type Stats } from './util.js';

export interface WakeEngine {
  size: string;
  engine: string;
  rounds: number;
  /** connect + first query on a suspended instance */
  wake: Stats;
  /** connect + first query on the same instance running */
  direct: Stats;
  wakeMs: number[];
  directMs: number[];
  /** wake attempts whose first connection or query failed (the client saw an error) */
  failures: Array<{ error: string; n: number }>;
}

export interface WakeMemory {
  instances: number;
  allRunning: { containers: number; bytes: number; processRssBytes: number };
  mostlySuspended: { suspended: number; containers: number; bytes: number; processRssBytes: number };
  /** time until all but the two held ones were suspended after their connections closed */
  suspendAllMs: number;
  createErrors: Array<{ error: string; n: number }>;
}

export interface WakeResult {
  series: string;
  idleSuspend: string;
  engines: WakeEngine[];
  memory: WakeMemory | null;
}

/**
 * Until the instance has `status`; for `suspended`, until it is parked: the controller records the status
 * first, then stops the server, listens on the port and only then clears the container id. A client that
 * connects before that meets the server shutting down.
 */
async function until(bc: BenchController, id: string, status: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const i = await bc.controller.store.getInstance(id);
    if (i?.status === status && (status !== 'suspended' || i.containerId === null)) return;
    if (Date.now() > deadline) throw new Error(`instance ${id} is ${i?.status}, not ${status}, after ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}

async function timedOnce(url: string, q: string): Promise<{ ms: number; error: string | null }> {
  const t0 = performance.now();
  try {
    await queryOnce(url, q);
    return { ms: round1(performance.now() - t0), error: null };
  } catch (e) {
    return { ms: round1(performance.now() - t0), error: (e as Error).message.split('\n')[0] };
  }
}

async function wakeEngine(bc: BenchController, s: SizeSpec, rounds: number): Promise<WakeEngine> {
  const q = sampleQuery(s.engine);
  const inst = await createReady(bc, s.template, `b-wake-${s.id}`, 120);
  const direct: number[] = [];
  const wake: number[] = [];
  const errors: string[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      await until(bc, inst.id, 'ready');
      const d = await timedOnce(inst.url, q);
      if (d.error) throw new Error(`query on the running instance failed: ${d.error}`);
      direct.push(d.ms);
      await until(bc, inst.id, 'suspended');
      const w = await timedOnce(inst.url, q);
      if (w.error) {
        errors.push(w.error);
        await firstQuery(inst.url, q, 60_000); // so that the next round starts from a running instance
      } else wake.push(w.ms);
    }
  } finally {
    await destroy(bc, inst.id, 120).catch((e) => say(`destroy of ${inst.id} failed: ${(e as Error).message}`));
  }
  const r: WakeEngine = { size: s.id, engine: s.engine, rounds, wake: stats(wake), direct: stats(direct), wakeMs: wake, directMs: direct, failures: tally(errors) };
  say(
    `${s.id} wake-to-first-query: median ${fmtMs(r.wake.median)}, p95 ${fmtMs(r.wake.p95)}, max ${fmtMs(r.wake.max)}; running: median ${fmtMs(r.direct.median)}, p95 ${fmtMs(r.direct.p95)}` +
      `${errors.length ? `; ${errors.length} FAILED: ${errors[0]}` : ''}`,
  );
  return r;
}

/** Sum of the memory of this controller's running containers (as `docker stats` counts it), 10 at a time. */
async function containerMemory(bc: BenchController): Promise<{ containers: number; bytes: number }> {
  const running = (await bc.controller.runtime.list({ 'myaas.home': bc.dataDir })).filter((c) => c.running);
  let bytes = 0;
  for (let i = 0; i < running.length; i += 10) {
    const ms = await Promise.all(running.slice(i, i + 10).map((c) => bc.controller.runtime.memoryUsage(c.id)));
    bytes += ms.reduce<number>((a, m) => a + (m ?? 0), 0);
  }
  return { containers: running.length, bytes };
}

async function wakeMemory(bc: BenchController, sizes: SizeSpec[], n: number): Promise<WakeMemory> {
  const made: Array<{ id: string; held: { close(): Promise<void> } }> = [];
  const errors: string[] = [];
  try {
    // Each one is held busy by an open connection from its creation on, so that all run at once.
    for (let i = 0; i < n; i += 10) {
      const rs = await Promise.allSettled(
        Array.from({ length: Math.min(10, n - i) }, async (_, k) => {
          const s = sizes[(i + k) % sizes.length];
          const inst = await createReady(bc, s.template, `b-wmem-${i + k}`, 300);
          return { id: inst.id, held: await holdConnection(inst.url) };
        }),
      );
      for (const r of rs) {
        if (r.status === 'fulfilled') made.push(r.value);
        else errors.push((r.reason as Error).message.split('\n')[0]);
      }
    }
    await sleep(3000);
    const all = { ...(await containerMemory(bc)), processRssBytes: process.memoryUsage().rss };
    say(`wake memory: ${made.length} instances running: ${all.containers} containers, ${fmtBytes(all.bytes)} (bench process RSS ${fmtBytes(all.processRssBytes)})`);
    const t0 = performance.now();
    for (const x of made.slice(2)) await x.held.close();
    for (const x of made.slice(2)) await until(bc, x.id, 'suspended', 300_000);
    const suspendAllMs = round1(performance.now() - t0);
    await sleep(2000);
    const some = { ...(await containerMemory(bc)), processRssBytes: process.memoryUsage().rss, suspended: Math.max(0, made.length - 2) };
    say(`wake memory: ${some.suspended} suspended: ${some.containers} containers running, ${fmtBytes(some.bytes)} (bench process RSS ${fmtBytes(some.processRssBytes)})`);
    return { instances: made.length, allRunning: all, mostlySuspended: some, suspendAllMs, createErrors: tally(errors) };
  } finally {
    for (const x of made) await x.held.close().catch(() => undefined);
    const ids = (await bc.controller.store.listLive()).filter((i) => i.name.startsWith('b-wmem-')).map((i) => i.id);
    for (let i = 0; i < ids.length; i += 20) await Promise.allSettled(ids.slice(i, i + 20).map((id) => destroy(bc, id, 120)));
  }
}

/** `sizes`: one per engine (the smallest); the controller must run with MYAAS_IDLE_SUSPEND. */
export async function measureWake(bc: BenchController, sizes: SizeSpec[], idleSuspend: string, rounds: number, instances: number): Promise<WakeResult> {
  const engines: WakeEngine[] = [];
  for (const s of sizes) engines.push(await wakeEngine(bc, s, rounds));
  const memory = instances > 0 ? await wakeMemory(bc, sizes, instances) : null;
  return { series: bc.driver, idleSuspend, engines, memory };
}
