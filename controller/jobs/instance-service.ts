// What callers (HTTP API, GitHub, CLI) may ask of instances. Records intent in the state DB and wakes
// the reconciler; never talks to Docker or the pool itself.
import { AppError } from '../domain/errors.js';
import { assertInstanceName, assertOwnerKey, assertTemplateName, defaultInstanceName } from '../domain/names.js';
import type { EngineName, InstanceRecord, TemplateVersion } from '../domain/types.js';
import type { Store } from '../db/store.js';
import type { Engine } from '../engines/engine.js';
import type { ConnectionDto, InstanceDto } from '../http/contract.js';
import type { InstancePort, InstanceView } from '../github/ports.js';
import { findDump } from './dumps.js';
import { newInstanceId, newPassword } from './ids.js';
import type { Importer } from './importer.js';
import { freePort, type PortRange } from './ports.js';
import type { Reconciler } from './reconciler.js';
import { isPoolOwner, type WarmPool } from './warm-pool.js';

export interface InstanceServiceDeps {
  store: Store;
  reconciler: Reconciler;
  importer: Pick<Importer, 'start' | 'runningTemplates'>;
  engines: (name: EngineName) => Engine;
  dumpsDir: string;
  publicHost: string;
  defaultTtlSeconds: number;
  portRange: PortRange;
  warmPool: Pick<WarmPool, 'claim' | 'refill'>;
}

/** True when `e` (or its cause, as drizzle wraps driver errors) is a violation of unique index `index`. */
function isUniqueViolation(e: unknown, index: string): boolean {
  for (let x: unknown = e; x; x = (x as { cause?: unknown }).cause) {
    const text = `${(x as Error).message ?? ''} ${(x as { constraint_name?: string }).constraint_name ?? ''}`;
    if (((x as { code?: string }).code === '23505' || /unique|duplicate/i.test(text)) && text.includes(index)) return true;
  }
  return false;
}

export function createInstanceService(deps: InstanceServiceDeps) {
  const { store, reconciler } = deps;
  const terminal = new Set(['ready', 'failed', 'destroyed']);

  async function versionOf(i: InstanceRecord): Promise<TemplateVersion | null> {
    return i.versionId ? store.getVersion(i.versionId) : null;
  }

  function connection(i: InstanceRecord, v: TemplateVersion | null): ConnectionDto | null {
    if (i.status !== 'ready' || !i.port || !v?.database) return null;
    const engine = deps.engines(i.engine);
    const c = { host: deps.publicHost, port: i.port, user: engine.adminUser, password: i.password, database: v.database };
    return { ...c, url: engine.url(c) };
  }

  async function view(i: InstanceRecord, withConnection: boolean): Promise<InstanceView> {
    const v = await versionOf(i);
    return {
      id: i.id,
      name: i.name,
      owner: i.owner,
      template: i.template,
      templateVersion: i.versionId,
      status: i.status,
      expiresAt: i.expiresAt?.toISOString() ?? null,
      createdAt: i.createdAt.toISOString(),
      readyAt: i.readyAt?.toISOString() ?? null,
      ...(i.error ? { error: i.error } : {}),
      connection: withConnection ? connection(i, v) : null,
      dataAsOf: v?.readyAt?.toISOString() ?? null,
    };
  }

  async function mustGet(id: string): Promise<InstanceRecord> {
    const i = await store.getInstance(id);
    if (!i) throw new AppError('not_found', `no instance ${JSON.stringify(id)}: list instances with \`myaas ls\``);
    return i;
  }

  /** The engine of a template that exists (ready, importing, or with a dump to import now). */
  async function templateEngine(template: string): Promise<EngineName> {
    const latest = await store.latestReady(template);
    if (latest) return latest.engine;
    if (deps.importer.runningTemplates().includes(template)) {
      const [v] = await store.listVersions({ template, status: ['importing'] });
      if (v) return v.engine;
    }
    const dump = await findDump(deps.dumpsDir, template).catch(() => null);
    if (!dump) {
      throw new AppError('not_found', `template "${template}" does not exist: put a dump at ${deps.dumpsDir}/<postgres|mariadb>/${template}.sql and run \`myaas import ${template}\``);
    }
    await deps.importer.start(template); // first use of a dump: import it, instances follow when ready
    return dump.engine;
  }

  const service = {
    view,
    async create(req: { owner: string; template: string; name?: string; ttlSeconds?: number }): Promise<{ instance: InstanceRecord; created: boolean }> {
      const owner = assertOwnerKey(req.owner);
      const template = assertTemplateName(req.template);
      const existing = await store.findLive(owner, template);
      if (existing && existing.desired === 'present') return { instance: existing, created: false };
      const name = req.name !== undefined ? assertInstanceName(req.name) : defaultInstanceName(owner, template);
      const engine = await templateEngine(template);
      const ttl = req.ttlSeconds ?? (owner.includes('#') ? 0 : deps.defaultTtlSeconds);
      const now = new Date();
      const expiresAt = ttl > 0 ? new Date(now.getTime() + ttl * 1000) : null;
      if (await store.liveByName(name)) {
        throw new AppError('conflict', `instance name "${name}" is taken: choose another --name or remove it (myaas rm)`);
      }
      const warm = await deps.warmPool.claim({ owner, template, name, expiresAt }).catch(() => null);
      if (warm) {
        // Refill after the caller has its answer: the refill's state-DB queries would queue ahead of it.
        setTimeout(() => void deps.warmPool.refill(), 200).unref();
        return { instance: warm, created: true };
      }
      for (let attempt = 0; ; attempt++) {
        const port = deps.portRange ? await freePort(store, deps.portRange) : null;
        const rec: InstanceRecord = {
          id: newInstanceId(), name, owner, template, engine, versionId: null, pinnedVersionId: null,
          status: 'provisioning', desired: 'present', port, password: newPassword(), containerId: null, error: null,
          generation: 0, appliedGeneration: 0, expiresAt,
          createdAt: now, readyAt: null, destroyedAt: null,
        };
        try {
          const r = await store.getOrCreateInstance(rec);
          if (r.created) {
            reconciler.notify(r.instance.id);
            void reconciler.wake(r.instance.id);
          }
          return r;
        } catch (e) {
          if (isUniqueViolation(e, 'instances_name_live')) {
            throw new AppError('conflict', `instance name "${name}" is taken: choose another --name or remove it (myaas rm)`);
          }
          if (isUniqueViolation(e, 'instances_port_live') && attempt < 5) continue;
          throw e;
        }
      }
    },
    get: mustGet,
    /** Live instances, without the warm pool's unclaimed ones. */
    async list(ownerPrefix?: string): Promise<InstanceRecord[]> {
      return (await store.listLive(ownerPrefix)).filter((i) => !isPoolOwner(i.owner));
    },
    async reset(id: string): Promise<InstanceRecord> {
      const i = await mustGet(id);
      if (i.status === 'destroyed' || i.desired === 'absent') throw new AppError('conflict', `instance ${id} is destroyed: create a new one`);
      await store.updateInstance(id, { generation: i.generation + 1, status: 'provisioning', error: null });
      reconciler.notify(id);
      void reconciler.wake(id);
      return mustGet(id);
    },
    async destroy(id: string): Promise<InstanceRecord> {
      const i = await mustGet(id);
      if (i.status !== 'destroyed') {
        await store.updateInstance(id, { desired: 'absent' });
        void reconciler.wake(id);
      }
      return mustGet(id);
    },
    /** Resolves with the instance once ready/failed/destroyed, or as it is when `timeoutMs` runs out. */
    async waitSettled(id: string, timeoutMs: number): Promise<InstanceRecord> {
      const deadline = Date.now() + timeoutMs;
      let i = await mustGet(id);
      const settled = (x: InstanceRecord) =>
        x.status === 'destroyed' || (x.desired === 'present' && terminal.has(x.status) && x.generation === x.appliedGeneration);
      while (!settled(i) && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const off = reconciler.onChange((changed) => {
            if (changed === id) {
              off();
              clearTimeout(t);
              resolve();
            }
          });
          const t = setTimeout(() => {
            off();
            resolve();
          }, Math.min(1000, Math.max(0, deadline - Date.now())));
        });
        i = await mustGet(id);
      }
      return i;
    },
    async dto(i: InstanceRecord, withConnection: boolean): Promise<InstanceDto> {
      const { dataAsOf: _ignored, ...dto } = await view(i, withConnection);
      return dto;
    },
  };

  const port: InstancePort = {
    async ensure(req) {
      const r = await service.create({ owner: req.owner, template: req.template });
      return { instance: await view(r.instance, true), created: r.created };
    },
    async destroyOwner(owner) {
      const live = (await store.listLive(owner)).filter((i) => i.owner === owner);
      for (const i of live) await service.destroy(i.id);
      return live.length;
    },
    async resetOwner(owner) {
      const live = (await store.listLive(owner)).filter((i) => i.owner === owner && i.desired === 'present');
      for (const i of live) await service.reset(i.id);
      return live.length;
    },
    async listByOwnerPrefix(prefix) {
      return Promise.all((await store.listLive(prefix)).map((i) => view(i, true)));
    },
    onChange(listener) {
      return reconciler.onChange((id) => {
        void store.getInstance(id).then((i) => (i ? view(i, true).then(listener) : undefined)).catch(() => {});
      });
    },
  };

  return { ...service, port };
}

export type InstanceService = ReturnType<typeof createInstanceService>;
