// The controller's core (services and jobs) wired as main.ts wires it, over the in-memory world,
// the memory store and a fake clock: for fast unit tests of orderings, retries and races.
import type { InstanceService, Reconciler, Telemetry, TemplateService, WarmPool } from '../../../controller/app/ports.js';
import { createInstanceService } from '../../../controller/app/instances.js';
import { createTemplateService } from '../../../controller/app/templates.js';
import { createDiskGuard } from '../../../controller/app/disk.js';
import { createPaths } from '../../../controller/domain/layout.js';
import type { EngineName, ProvisionTimings, TemplateVersion } from '../../../controller/domain/types.js';
import { createEmitter } from '../../../controller/lib/emitter.js';
import { createHandoverBook } from '../../../controller/jobs/handovers.js';
import { createImporter } from '../../../controller/jobs/importer.js';
import { createReaper, type Reaper } from '../../../controller/jobs/reaper.js';
import { createReconciler } from '../../../controller/jobs/reconciler.js';
import { createWarmPool } from '../../../controller/jobs/warm-pool.js';
import { createSuspender, type Suspender } from '../../../controller/jobs/suspender.js';
import { createMemoryLogger } from '../webhook-fixtures.js';
import { createFakeClock, type FakeClock } from './clock.js';
import { createMemoryStore, type MemoryStore } from './store.js';
import { createWorld, type World } from './world.js';
import { createFakeWakeListeners, type FakeWakeListeners } from './wake.js';

export const DATA = '/data';

export interface Core {
  world: World;
  store: MemoryStore;
  clock: FakeClock;
  log: ReturnType<typeof createMemoryLogger>;
  reconciler: Reconciler;
  instances: InstanceService;
  templates: TemplateService;
  importer: ReturnType<typeof createImporter>;
  warmPool: WarmPool;
  reaper: Reaper;
  /** idle suspension (opts.idleSuspendMs; 0 by default: polls do nothing) and its fake listeners */
  suspender: Suspender;
  listeners: FakeWakeListeners;
  timings: ProvisionTimings[];
  /** every report made to Telemetry, in order */
  reports: Array<{ kind: keyof Telemetry; report: unknown }>;
  /** instance ids in the order their changes were announced */
  changes: string[];
  /** records a ready template version whose datadir exists on the pool (with the admin password) */
  addVersion(template: string, over?: Partial<TemplateVersion>): Promise<TemplateVersion>;
  /** waits until nothing is converging or importing */
  settle(): Promise<void>;
}

let seq = 0;

export function buildCore(opts: { warmPool?: number; portRange?: { from: number; to: number }; concurrency?: number; retryAttempts?: number; maxInstances?: number; maxPerRepo?: number; idleTtl?: number; schemaVariants?: boolean; diskLimitBytes?: number; pinnedVersions?: string[]; idleSuspendMs?: number } = {}): Core {
  const world = createWorld();
  const store = createMemoryStore();
  const clock = createFakeClock();
  const log = createMemoryLogger();
  const paths = createPaths(DATA);
  const engines = (name: EngineName) => world.engine(name);
  const announced: string[] = [];
  const changes = createEmitter<string>((e) => {
    throw e;
  });
  changes.subscribe((id) => announced.push(id));
  const timings: ProvisionTimings[] = [];
  const reports: Core['reports'] = [];
  const record = <K extends keyof Telemetry>(kind: K) => (report: unknown) => void reports.push({ kind, report });
  const telemetry: Telemetry = {
    provisioned: (t, about) => {
      timings.push(t);
      reports.push({ kind: 'provisioned', report: { ...about, timings: t } });
    },
    imported: record('imported'), reconciled: record('reconciled'), swept: record('swept'),
    webhook: record('webhook'), githubError: record('githubError'),
  };
  const common = { store, storage: world.storage, runtime: world.runtime, engines, paths, clock, home: DATA, telemetry, log };
  const disk = createDiskGuard({ storage: world.storage, dataDir: DATA, reserve: { percent: 10 }, limit: { bytes: opts.diskLimitBytes ?? 0, quota: 'squota' } });
  const importer = createImporter({
    ...common, files: world.files, dumps: world.dumps, images: { postgres: 'pg:15', mariadb: 'my:10' }, jobs: 2, timeoutMs: 3600_000,
    schemaVariants: opts.schemaVariants ?? false, limits: { memoryBytes: 2 << 30, cpus: 2, pidsLimit: 512 }, disk,
  });
  const handovers = createHandoverBook();
  let suspender: Suspender | null = null;
  const reconciler = createReconciler({
    ...common, importer, beforeStart: (id) => suspender?.release(id) ?? Promise.resolve(), changes, handovers, net: world.net,
    portRange: opts.portRange ?? null, memoryBytes: 1 << 30, cpus: 1, publishIp: '127.0.0.1', network: 'bridge',
    probeHost: '127.0.0.1', readyTimeoutMs: 60_000, concurrency: opts.concurrency, retryAttempts: opts.retryAttempts ?? 3,
    capacity: { max: opts.maxInstances ?? 100, perRepo: opts.maxPerRepo ?? 25 },
    safety: { dockerNetwork: 'myaas', pidsLimit: 512, diskLimitBytes: opts.diskLimitBytes ?? 0, tlsDir: () => `${DATA}/tls/999-999` },
  });
  const listeners = createFakeWakeListeners(world);
  suspender = createSuspender({
    store, reconciler, engines, listeners, changes, clock, log, idleMs: opts.idleSuspendMs ?? 0, publishIp: '127.0.0.1', probeHost: '127.0.0.1',
  });
  const warmPool = createWarmPool({ store, reconciler, handovers, changes, engines, clock, size: opts.warmPool ?? 0, maxInstances: opts.maxInstances ?? 100, probeHost: '127.0.0.1', log });
  importer.onFinished((template) => {
    void reconciler.wakeAll({ template, retryFailed: true });
    void warmPool.refill();
  });
  const templates = createTemplateService({ store, dumps: world.dumps, importer });
  const instances = createInstanceService({
    store, reconciler, templates, warmPool, changes, engines, clock, publicHost: 'db.test', probeHost: '127.0.0.1',
    lifetimes: { pull: 7 * 86400, idle: opts.idleTtl ?? 0, run: 3 * 3600, api: 3600, max: 86400 },
    portRange: opts.portRange ?? null, disk,
  });
  const reaper = createReaper({ ...common, files: world.files, importer, reconciler, changes, pinnedVersions: new Set(opts.pinnedVersions ?? []) });
  world.runtime.watch({ 'myaas.home': DATA }, (e) => reconciler.observe(e));

  return {
    world, store, clock, log, reconciler, instances, templates, importer, warmPool, reaper, suspender, listeners, timings, reports, changes: announced,
    async addVersion(template, over = {}) {
      const v: TemplateVersion = {
        id: `v${++seq}`, template, engine: 'postgres', status: 'ready', image: 'pg:15', database: template,
        adminPassword: `admin-${seq}`, sizeBytes: 1234, error: null, createdAt: new Date(clock.now()),
        readyAt: new Date(clock.now() + seq), ...over,
      };
      await store.insertVersion(v);
      world.volumes.set(paths.version(template, v.id), { sealed: true, password: v.adminPassword });
      return v;
    },
    async settle() {
      for (let i = 0; i < 5; i++) {
        await importer.drain();
        await reconciler.idle();
        await new Promise((r) => setImmediate(r));
      }
    },
  };
}
