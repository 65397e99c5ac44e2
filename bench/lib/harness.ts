// A real controller, built in-process the way `myaas serve` builds it, listening on a free port with
// its own data dir in a pool. Its pino log is parsed for the per-instance `instance ready` timings,
// and its storage, runtime and state-DB calls are timed for the profile.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { serve } from '@hono/node-server';
import { loadConfig } from '../../controller/config.js';
import { createLogger } from '../../controller/log.js';
import { buildController, type Controller } from '../../controller/main.js';
import type { Runtime } from '../../controller/runtime/runtime.js';
import { createCommandRunner } from '../../controller/host/command.js';
import { createStorage } from '../../controller/storage/index.js';
import { alive } from './docker.js';
import type { Driver, Options } from './options.js';
import { say, sleep } from './util.js';

export interface ReadyTimings {
  cloneMs: number;
  startMs: number;
  rotateMs: number;
  probeMs: number;
  totalMs: number;
  /** performance.now() when the bench read the log line */
  at: number;
}

export interface Span {
  name: string;
  start: number;
  end: number;
}

export interface Variant {
  /** MYAAS_WARM_POOL */
  warmPool?: number;
  /** MYAAS_NETWORK */
  network?: 'host';
  /** MYAAS_MAX_INSTANCES (shipped default 100): the scale series need room for hundreds */
  maxInstances?: number;
  /** MYAAS_IDLE_SUSPEND, e.g. `2s` */
  idleSuspend?: string;
}

export const seriesName = (driver: Driver, v: Variant = {}) =>
  [driver, v.network ? `${v.network} network` : '', v.warmPool ? `warm pool ${v.warmPool}` : '', v.idleSuspend ? `idle suspend ${v.idleSuspend}` : '']
    .filter(Boolean)
    .join(', ');

export interface BenchController {
  /** the series: storage driver and variant, e.g. `btrfs, warm pool 2` */
  driver: string;
  storage: Driver;
  dataDir: string;
  url: string;
  controller: Controller;
  /** `link`: the Link header (the next page of a list), if any */
  api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T; ms: number; link: string | null }>;
  /** `instance ready` timings by instance id, as the controller logged them */
  ready: Map<string, ReadyTimings>;
  /** calls into storage, runtime and the state DB, while `recording` is on */
  spans: Span[];
  recording: boolean;
  /** Destroys what is live and stops, keeping the data dir (templates) for the next controller. */
  stop(): Promise<void>;
  /** Stops and removes everything: containers, clones, templates, the data dir. */
  close(): Promise<void>;
}

const PREFIX = 'myaas-bench-';

/** Wraps every method of `obj` so that calls are recorded as spans while the recorder is on. */
function instrument(obj: object, prefix: string, rec: { recording: boolean; spans: Span[] }): void {
  const target = obj as Record<string, unknown>;
  for (const key of Object.keys(target)) {
    const orig = target[key];
    if (typeof orig !== 'function') continue;
    target[key] = function (this: unknown, ...args: unknown[]) {
      if (!rec.recording) return (orig as (...a: unknown[]) => unknown).apply(obj, args);
      const start = performance.now();
      const done = () => rec.spans.push({ name: `${prefix}.${key}`, start, end: performance.now() });
      const r = (orig as (...a: unknown[]) => unknown).apply(obj, args);
      if (r && typeof (r as Promise<unknown>).then === 'function') return (r as Promise<unknown>).finally(done);
      done();
      return r;
    };
  }
}

/** A controller on `<pool>/myaas-bench-<pid>-<driver>`; a later one on the same driver finds the templates there. */
export async function startBenchController(o: Options, driver: Driver, pool: string, variant: Variant = {}): Promise<BenchController> {
  const series = seriesName(driver, variant);
  const dataDir = join(pool, `${PREFIX}${process.pid}-${driver}`);
  await mkdir(dataDir, { recursive: true });
  const token = randomBytes(18).toString('base64url');
  const ready = new Map<string, ReadyTimings>();
  const logSink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const j = JSON.parse(line) as Record<string, unknown>;
          if (j.msg === 'instance ready' && typeof j.instance === 'string') ready.set(j.instance, { ...(j as unknown as ReadyTimings), at: performance.now() });
          else if (typeof j.level === 'number' && j.level >= 50) say(`controller (${series}) error: ${String(j.msg)} ${String(j.err ?? '')}`);
        } catch {
          // not JSON: ignore
        }
      }
      cb();
    },
  });
  // Defaults as shipped (memory limit 1g, 1 CPU, instance settings of the engines), listening on loopback.
  const config = loadConfig({
    MYAAS_DATA_DIR: dataDir,
    MYAAS_DUMPS_DIR: join(o.cache, 'dumps'),
    MYAAS_STORAGE: driver,
    MYAAS_POSTGRES_IMAGE: o.images.postgres,
    MYAAS_MARIADB_IMAGE: o.images.mariadb,
    MYAAS_API_TOKENS: token,
    MYAAS_PUBLIC_HOST: '127.0.0.1',
    MYAAS_PUBLISH_IP: '127.0.0.1',
    MYAAS_RECONCILE_INTERVAL: '3600',
    MYAAS_LOG_LEVEL: 'info',
    ...(variant.warmPool ? { MYAAS_WARM_POOL: String(variant.warmPool) } : {}),
    ...(variant.network ? { MYAAS_NETWORK: variant.network } : {}),
    ...(variant.maxInstances ? { MYAAS_MAX_INSTANCES: String(variant.maxInstances) } : {}),
    ...(variant.idleSuspend ? { MYAAS_IDLE_SUSPEND: variant.idleSuspend } : {}),
    // Taken from the bench's own environment, to compare settings (results.md names the value).
    ...(process.env.MYAAS_PROVISION_CONCURRENCY ? { MYAAS_PROVISION_CONCURRENCY: process.env.MYAAS_PROVISION_CONCURRENCY } : {}),
  } as NodeJS.ProcessEnv);
  const controller = await buildController(config, createLogger('info', logSink));
  await controller.start();
  const server = serve({ fetch: controller.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((r) => server.once('listening', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const rec = { recording: false, spans: [] as Span[] };
  instrument(controller.storage, 'storage', rec);
  instrument(controller.runtime, 'docker', rec);
  instrument(controller.store, 'statedb', rec);

  const bc: BenchController = {
    driver: series,
    storage: driver,
    dataDir,
    url,
    controller,
    ready,
    get spans() {
      return rec.spans;
    },
    set spans(v: Span[]) {
      rec.spans = v;
    },
    get recording() {
      return rec.recording;
    },
    set recording(v: boolean) {
      rec.recording = v;
    },
    async api(method, path, body) {
      const t0 = performance.now();
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null, ms: performance.now() - t0, link: res.headers.get('link') };
    },
    async stop() {
      rec.recording = false;
      for (const i of await controller.store.listLive()) {
        await controller.instances.destroy(i.id);
        await controller.instances.waitSettled(i.id, 60_000);
      }
      server.close();
      await controller.close();
    },
    async close() {
      rec.recording = false;
      server.close();
      await wipeDataDir(controller.runtime, driver, dataDir, controller);
      const left = await controller.runtime.list({ 'myaas.home': dataDir });
      if (left.length) throw new Error(`the bench left containers behind: ${left.map((c) => c.name).join(', ')}`);
    },
  };
  return bc;
}

/** Removes every container, clone and template version under a bench data dir, then the dir. */
async function wipeDataDir(runtime: Runtime, driver: Driver, dataDir: string, controller?: Controller): Promise<void> {
  const storage = controller?.storage ?? createStorage(driver, createCommandRunner());
  for (const c of await runtime.list({ 'myaas.home': dataDir })) await runtime.remove(c.id);
  if (controller) {
    // An import cut short (its container just went) records its failure before the state DB closes.
    await Promise.race([controller.importer.drain(), sleep(30_000)]);
    await controller.close().catch(() => {});
    // Until it closed, the controller answered the removals above as faults: it started servers again
    // and refilled its warm pool. Those containers go now that nothing brings them back.
    for (const c of await runtime.list({ 'myaas.home': dataDir })) await runtime.remove(c.id);
  }
  for (const id of await readdir(join(dataDir, 'instances')).catch(() => [])) await storage.remove(join(dataDir, 'instances', id));
  for (const id of await readdir(join(dataDir, 'staging')).catch(() => [])) await rm(join(dataDir, 'staging', id), { recursive: true, force: true });
  for (const t of await readdir(join(dataDir, 'templates')).catch(() => [])) {
    for (const v of await readdir(join(dataDir, 'templates', t)).catch(() => [])) await storage.remove(join(dataDir, 'templates', t, v));
  }
  await rm(dataDir, { recursive: true, force: true });
}

/** Data dirs left by bench runs whose process is gone (a crash or a kill): removed with all they hold. */
export async function removeStaleDataDirs(runtime: Runtime, pools: { btrfs: string; xfs: string }): Promise<string[]> {
  const removed: string[] = [];
  for (const [kind, pool] of Object.entries(pools)) {
    for (const name of await readdir(pool).catch(() => [])) {
      const m = new RegExp(`^${PREFIX}([0-9]+)-(btrfs|reflink|copy)$`).exec(name);
      if (!m || alive(Number(m[1]))) continue;
      await wipeDataDir(runtime, kind === 'btrfs' && m[2] === 'btrfs' ? 'btrfs' : m[2] === 'copy' ? 'copy' : 'reflink', join(pool, name));
      removed.push(join(pool, name));
    }
  }
  return removed;
}

/** Imports a template through the API; resolves with the wall time from request to `ready`. */
export async function importTemplate(bc: BenchController, template: string): Promise<{ ms: number; sizeBytes: number; phases: Record<string, number> }> {
  const phases: Record<string, number> = {};
  const t0 = performance.now();
  const r = await bc.api('POST', `/api/v1/templates/${template}/import`);
  if (r.status !== 202) throw new Error(`import of ${template} not accepted: ${r.status} ${JSON.stringify(r.body)}`);
  const id = r.body.version.id as string;
  const off = bc.controller.importer.onProgress((v, phase, ms) => {
    if (v === id) phases[phase] = ms;
  });
  try {
    for (;;) {
      const ts = (await bc.api('GET', '/api/v1/templates')).body as any[];
      const v = ts.find((x) => x.name === template)?.versions.find((x: any) => x.id === id);
      if (v?.status === 'ready') return { ms: phases.ready ?? performance.now() - t0, sizeBytes: v.sizeBytes, phases };
      if (v && v.status !== 'importing') throw new Error(`import of ${template} ${v.status}: ${v.error ?? ''}`);
      await sleep(200);
    }
  } finally {
    off();
  }
}

/** Waits until the warm pool holds `n` ready instances of the template's latest version. */
export async function waitWarm(bc: BenchController, template: string, n: number, timeoutMs = 60_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const latest = await bc.controller.store.latestReady(template);
    const warm = (await bc.controller.store.listLive({ ownerPrefix: 'pool:' })).filter((i) => i.template === template && i.status === 'ready' && i.versionId === latest?.id);
    if (warm.length >= n) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`the warm pool of ${template} has ${warm.length} of ${n} ready instances after ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}
