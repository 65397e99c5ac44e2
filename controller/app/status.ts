// What an admin sees of the controller: templates and imports, instances with their memory and
// disk, the pool, recent failures (the status page), and the counts the metrics gauges read.
// Reads only: state DB, the container runtime's memory figures, the pool's statfs and the clone sizes.
import { messageOf } from '../domain/errors.js';
import type { Paths } from '../domain/layout.js';
import { parseOwner, POOL_PREFIX } from '../domain/owner.js';
import type { MetricsReadings, PoolUsage, StatusCount } from '../domain/telemetry.js';
import type { InstanceRecord, TemplateVersion } from '../domain/types.js';
import type {
  Clock,
  FailureRow,
  HostFiles,
  InstanceStatusRow,
  Logger,
  Runtime,
  StatusService,
  Storage,
  Store,
  TemplateService,
  TemplateStatusRow,
  VersionStatusRow,
} from './ports.js';

export interface StatusServiceDeps {
  store: Pick<Store, 'listLive' | 'listVersions'>;
  templates: Pick<TemplateService, 'list'>;
  runtime: Pick<Runtime, 'memoryUsage'>;
  storage: Pick<Storage, 'name' | 'size' | 'ownBytes'>;
  files: Pick<HostFiles, 'poolUsage'>;
  paths: Paths;
  clock: Clock;
  /** MYAAS_WARM_POOL */
  warmPoolTarget: number;
  log: Logger;
  /** how long a clone's measured sizes are reused (walking a large datadir is not free); default 60 s */
  diskCacheMs?: number;
  /** failures shown at most */
  maxFailures?: number;
}

const isPool = (i: InstanceRecord) => i.owner.startsWith(POOL_PREFIX);

function tally(rows: Array<{ template: string; status: string }>): StatusCount[] {
  const m = new Map<string, StatusCount>();
  for (const r of rows) {
    const k = `${r.template}\u0000${r.status}`;
    const c = m.get(k) ?? { template: r.template, status: r.status, count: 0 };
    c.count++;
    m.set(k, c);
  }
  return [...m.values()];
}

export function createStatusService(deps: StatusServiceDeps): StatusService {
  const { store, clock, log } = deps;
  const diskCacheMs = deps.diskCacheMs ?? 60_000;
  // instance id → sizes measured at `at`; dropped once the instance is gone
  const disk = new Map<string, { at: number; dataBytes: number | null; ownBytes: number | null }>();

  async function pool(): Promise<PoolUsage | null> {
    return deps.files.poolUsage(deps.paths.dataDir).catch((e) => {
      log.warn({ err: messageOf(e), dataDir: deps.paths.dataDir }, 'cannot read the pool usage');
      return null;
    });
  }

  async function sizes(i: InstanceRecord) {
    const cached = disk.get(i.id);
    if (cached && clock.now() - cached.at < diskCacheMs) return cached;
    const path = deps.paths.instance(i.id);
    const quiet = (what: string) => (e: unknown) => {
      log.debug({ instance: i.id, err: messageOf(e) }, `cannot measure ${what} of clone`);
      return null;
    };
    const m = {
      at: clock.now(),
      dataBytes: await deps.storage.size(path).catch(quiet('size')),
      ownBytes: await deps.storage.ownBytes(path).catch(quiet('own bytes')),
    };
    disk.set(i.id, m);
    return m;
  }

  async function instanceRow(i: InstanceRecord): Promise<InstanceStatusRow> {
    const hasClone = i.versionId !== null && i.status !== 'destroyed';
    const [memoryBytes, measured] = await Promise.all([
      i.containerId && i.status === 'ready' ? deps.runtime.memoryUsage(i.containerId).catch(() => null) : null,
      hasClone ? sizes(i) : null,
    ]);
    return {
      id: i.id,
      name: i.name,
      owner: i.owner,
      ownerKey: parseOwner(i.owner),
      template: i.template,
      versionId: i.versionId,
      status: i.status,
      createdAt: i.createdAt,
      readyAt: i.readyAt,
      expiresAt: i.expiresAt,
      error: i.error,
      memoryBytes,
      dataBytes: measured?.dataBytes ?? null,
      ownBytes: measured?.ownBytes ?? null,
    };
  }

  function versionRow(v: TemplateVersion, live: InstanceRecord[]): VersionStatusRow {
    return {
      id: v.id,
      status: v.status,
      createdAt: v.createdAt,
      readyAt: v.readyAt,
      sizeBytes: v.sizeBytes,
      error: v.error,
      phase: v.status === 'importing' ? (v.phase ?? null) : null,
      elapsedMs: v.status === 'importing' ? clock.now() - v.createdAt.getTime() : null,
      instances: live.filter((i) => i.versionId === v.id).length,
    };
  }

  function failures(live: InstanceRecord[], versions: TemplateVersion[]): FailureRow[] {
    const rows: FailureRow[] = [
      ...live
        .filter((i) => i.status === 'failed')
        .map((i) => ({ kind: 'instance' as const, id: i.id, template: i.template, name: i.name, at: i.createdAt, error: i.error ?? 'failed' })),
      ...versions
        .filter((v) => v.status === 'failed')
        .map((v) => ({ kind: 'version' as const, id: v.id, template: v.template, name: null, at: v.createdAt, error: v.error ?? 'failed' })),
    ];
    return rows.sort((a, b) => b.at.getTime() - a.at.getTime()).slice(0, deps.maxFailures ?? 20);
  }

  return {
    async snapshot() {
      const [live, { templates, problems }, usage] = await Promise.all([store.listLive(), deps.templates.list(), pool()]);
      for (const id of disk.keys()) if (!live.some((i) => i.id === id)) disk.delete(id);
      const owned = live.filter((i) => !isPool(i));
      const warm = live.filter(isPool);
      const templateRows = templates.map((t): TemplateStatusRow => {
        const latest = t.versions.find((v) => v.id === t.latest) ?? null;
        return {
          name: t.name,
          engine: t.engine,
          latest: t.latest,
          dataAsOf: latest?.readyAt ?? null,
          sizeBytes: latest?.sizeBytes ?? null,
          versions: t.versions.map((v) => versionRow(v, live)),
        };
      });
      const byTemplate = [...new Set(warm.map((i) => i.template))].sort().map((template) => {
        const mine = warm.filter((i) => i.template === template);
        return { template, ready: mine.filter((i) => i.status === 'ready').length, total: mine.length };
      });
      // A few at a time: memory figures come from the Docker engine, which the reconciler needs too.
      const instances: InstanceStatusRow[] = [];
      for (let k = 0; k < owned.length; k += 4) instances.push(...(await Promise.all(owned.slice(k, k + 4).map(instanceRow))));
      return {
        at: new Date(clock.now()),
        storage: deps.storage.name,
        dataDir: deps.paths.dataDir,
        pool: usage,
        templates: templateRows,
        dumpProblems: problems,
        instances,
        warmPool: { target: deps.warmPoolTarget, byTemplate },
        failures: failures(live, templates.flatMap((t) => t.versions)),
      };
    },

    async readings(): Promise<MetricsReadings> {
      const [live, versions, usage] = await Promise.all([store.listLive(), store.listVersions(), pool()]);
      return {
        pool: usage,
        instances: tally(live.filter((i) => !isPool(i))),
        warmPool: tally(live.filter(isPool)),
        versions: tally(versions),
      };
    },
  };
}
