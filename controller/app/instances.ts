// What callers (HTTP API, GitHub, CLI) may ask of instances. Records intent in the state DB and wakes
// the reconciler; never talks to Docker or the pool itself.
import { AppError, UniqueViolation } from '../domain/errors.js';
import { isSettled } from '../domain/lifecycle.js';
import { diffSchemas, type SchemaSnapshot } from '../domain/schema.js';
import { renderSchemaDiffMarkdown, schemaDiffSummary } from '../domain/schema-markdown.js';
import { pickPort, type PortRange } from '../domain/port-range.js';
import { assertInstanceName, assertTemplateName } from '../domain/names.js';
import { defaultInstanceName, formatOwner, parseOwner, POOL_PREFIX, pullPrefix } from '../domain/owner.js';
import { newInstanceRecord, type Connection, type InstanceRecord, type InstanceView } from '../domain/types.js';
import { newInstanceId, newPassword } from '../lib/ids.js';
import {
  type Clock,
  type CreateRequest,
  type DiskGuard,
  type Engines,
  type InstanceChanges,
  type InstanceService,
  type Reconciler,
  type Store,
  type TemplateService,
  type WarmPool,
} from './ports.js';

export interface InstanceServiceDeps {
  store: Store;
  reconciler: Pick<Reconciler, 'wake' | 'retryNow' | 'admit' | 'resume'>;
  templates: Pick<TemplateService, 'engineFor'>;
  warmPool: Pick<WarmPool, 'claim' | 'refill'>;
  changes: InstanceChanges;
  engines: Engines;
  clock: Clock;
  publicHost: string;
  lifetimes: Lifetimes;
  /** where the controller itself reaches instances (for reading their schema) */
  probeHost: string;
  /** MYAAS_PORT_RANGE: a new instance gets its port at once, so a full range is refused at create */
  portRange: PortRange | null;
  /** refuses new instances while the pool is below its reserve */
  disk: Pick<DiskGuard, 'assertRoom'>;
}

/** How long instances live, by whom they belong to (seconds; 0: until removed). */
export interface Lifetimes {
  /** a pull request's instances, counted from the last time the pull request was seen */
  pull: number;
  /** a workflow run's instance: always expires, even if its post step never runs */
  run: number;
  /** a person's or script's (MYAAS_INSTANCE_TTL) */
  api: number;
  /** the longest a repository's token may ask for (only admins may ask for none) */
  max: number;
  /** MYAAS_GITHUB_IDLE_TTL: a pull request's instances expire this long after its last push (0: off) */
  idle: number;
}

/** A pull request's instances get a new expiry at most this often: each event need not write one. */
const REFRESH_AFTER_MS = 3600_000;

const isPool = (i: InstanceRecord) => i.owner.startsWith(POOL_PREFIX);
/** How long a create waits for the reconciler to hand a claimed warm instance over. */
const HANDOVER_WAIT_MS = 10_000;
/** How long a create waits for the owner's previous instance of the template to be destroyed (GitHub waits 10 s for a webhook's answer). */
const DESTROY_WAIT_MS = 8000;

export function createInstanceService(deps: InstanceServiceDeps): InstanceService {
  const { store, reconciler, clock } = deps;

  const taken = (name: string) => new AppError('conflict', `instance name "${name}" is taken: choose another --name or remove it (myaas rm)`);

  async function mustGet(id: string): Promise<InstanceRecord> {
    const i = await store.getInstance(id);
    if (!i) throw new AppError('not_found', `no instance ${JSON.stringify(id)}: list instances with \`myaas ls\``);
    return i;
  }

  /** Records a change and lets the reconciler act on it. */
  async function changed(id: string): Promise<void> {
    deps.changes.publish(id);
    void reconciler.wake(id);
  }

  function connection(i: InstanceRecord, database: string | null): Connection | null {
    // A suspended instance keeps its URL: connecting to it wakes it.
    if ((i.status !== 'ready' && i.status !== 'suspended') || !i.port || !database) return null;
    const engine = deps.engines(i.engine);
    const c = { host: i.host ?? deps.publicHost, port: i.port, user: engine.adminUser, password: i.password, database };
    return { ...c, url: engine.url(c) };
  }

  async function view(i: InstanceRecord): Promise<InstanceView> {
    const v = i.versionId ? await store.getVersion(i.versionId) : null;
    return { instance: i, dataAsOf: v?.readyAt ?? null, connection: connection(i, v?.database ?? null) };
  }

  async function insert(
    rec: Pick<InstanceRecord, 'name' | 'owner' | 'template' | 'engine' | 'status' | 'expiresAt' | 'createdAt' | 'pinnedVersionId'>,
  ): Promise<{ instance: InstanceRecord; created: boolean }> {
    const avoid: number[] = [];
    for (let attempt = 1; ; attempt++) {
      const port = deps.portRange ? pickPort(deps.portRange, await store.livePorts(), avoid) : null;
      try {
        const r = await store.getOrCreateInstance(newInstanceRecord({ ...rec, port, id: newInstanceId(), password: newPassword() }));
        if (!r.created) return r;
        deps.changes.publish(r.instance.id);
        // Every new instance waits in line; admission starts it at once while the caps leave room.
        await reconciler.admit();
        return { instance: await mustGet(r.instance.id), created: true };
      } catch (e) {
        if (e instanceof UniqueViolation && e.index === 'instances_name_live') throw taken(rec.name);
        // Another create took the same port of the range a moment ago: take the next one.
        if (e instanceof UniqueViolation && e.index === 'instances_port_live' && port !== null && attempt < 10) {
          avoid.push(port);
          continue;
        }
        throw e;
      }
    }
  }

  /** The lifetime a create asks for, within what its caller may ask. */
  function lifetimeOf(req: CreateRequest): number {
    const { lifetimes } = deps;
    const byKind = req.owner.kind === 'pull' ? lifetimes.pull : req.owner.kind === 'run' ? lifetimes.run : lifetimes.api;
    if (req.ttlSeconds === undefined) return byKind;
    if (req.trusted === false) {
      if (req.ttlSeconds === 0) throw new AppError('forbidden', 'ttl 0 (never expire) needs an admin token; a repository\'s token may ask for up to MYAAS_MAX_TTL');
      if (req.ttlSeconds > lifetimes.max) {
        throw new AppError('forbidden', `ttl ${req.ttlSeconds}s is longer than this controller allows a repository's token (MYAAS_MAX_TTL=${lifetimes.max}s)`);
      }
    }
    // A run's instance always ends: nobody may make it outlive the run by much, not even by accident.
    if (req.owner.kind === 'run' && req.ttlSeconds === 0 && req.trusted === false) return lifetimes.run;
    return req.ttlSeconds;
  }

  const service: InstanceService = {
    async create(req) {
      const owner = formatOwner(req.owner);
      const template = assertTemplateName(req.template);
      const existing = await store.findLive(owner, template);
      if (existing && existing.desired === 'present') {
        // Asking again is how an owner says "try now": a failed or retrying instance gets its next attempt at once.
        if (existing.status === 'failed' || existing.status === 'retrying') {
          await reconciler.retryNow(existing.id);
          return { instance: await mustGet(existing.id), created: false };
        }
        // Its owner is about to use it: start it now rather than on the first connection.
        if (existing.status === 'suspended') {
          await reconciler.resume(existing.id);
          return { instance: await mustGet(existing.id), created: false };
        }
        return { instance: existing, created: false };
      }
      if (existing) {
        // Still being destroyed (a pull request closed and reopened at once, an rm then a create): it
        // holds its name and its place until it is gone, a second or two; then this one is made.
        const gone = await service.waitSettled(existing.id, DESTROY_WAIT_MS);
        if (gone.status !== 'destroyed') {
          throw new AppError('timeout', `the previous instance ${existing.name} of ${owner} is still being destroyed: ask again in a moment`);
        }
      }
      const name = req.name !== undefined ? assertInstanceName(req.name) : defaultInstanceName(req.owner, template);
      // Before engineFor, which may start a first-use import.
      await deps.disk.assertRoom('a new instance');
      const ttl = lifetimeOf(req);
      const engine = await deps.templates.engineFor(template);
      const now = new Date(clock.now());
      const expiresAt = ttl > 0 ? new Date(now.getTime() + ttl * 1000) : null;
      if (await store.liveByName(name)) throw taken(name);
      const warm = await deps.warmPool.claim({ owner: req.owner, template, name, expiresAt }).catch(() => null);
      if (warm) {
        // Refill after the caller has its answer: the refill's state-DB queries would queue ahead of it.
        setTimeout(() => void deps.warmPool.refill(), 200).unref();
        // The handover is a password change and a probe: answer with the ready instance, as a warm
        // pool promises, rather than make every caller poll for it.
        return { instance: await service.waitSettled(warm.id, HANDOVER_WAIT_MS), created: true };
      }
      return insert({ name, owner, template, engine, status: 'queued', expiresAt, createdAt: now, pinnedVersionId: req.pinnedVersionId ?? null });
    },
    get: mustGet,
    async list(filter = {}) {
      const owner = filter.owner ? formatOwner(filter.owner) : undefined;
      const rows = await store.listLive({ ownerPrefix: owner });
      return rows.filter((i) => !isPool(i) && (owner === undefined || i.owner === owner));
    },
    async page(q) {
      // One row more than asked tells whether another page follows, without counting.
      const rows = await store.pageLive({ ...q, excludeOwnerPrefix: POOL_PREFIX, limit: q.limit + 1 });
      return { items: rows.slice(0, q.limit), more: rows.length > q.limit };
    },
    async reset(id) {
      const i = await mustGet(id);
      if (i.status === 'destroyed' || i.desired === 'absent') throw new AppError('conflict', `instance ${id} is destroyed: create a new one`);
      await store.updateInstance(id, { generation: i.generation + 1, status: 'provisioning', error: null, attempts: 0, retryAt: null, lastFault: null });
      await changed(id);
      return mustGet(id);
    },
    async destroy(id) {
      const i = await mustGet(id);
      if (i.status !== 'destroyed' && i.desired !== 'absent') {
        await store.updateInstance(id, { desired: 'absent' });
        await changed(id);
      }
      return mustGet(id);
    },
    async waitSettled(id, timeoutMs) {
      const deadline = clock.now() + timeoutMs;
      let i = await mustGet(id);
      while (!isSettled(i) && clock.now() < deadline) {
        await new Promise<void>((resolve) => {
          const off = deps.changes.subscribe((changedId) => {
            if (changedId === id) done();
          });
          // A safety net for changes made by another process (there is none today) or missed events.
          const t = setTimeout(() => done(), Math.min(1000, Math.max(0, deadline - clock.now())));
          function done() {
            off();
            clearTimeout(t);
            resolve();
          }
        });
        i = await mustGet(id);
      }
      return i;
    },
    view,
    async viewsOf(owner) {
      return Promise.all((await service.list({ owner })).map(view));
    },
    async pullRequestViews(repo) {
      const rows = await store.listLive({ ownerPrefix: pullPrefix(repo) });
      return Promise.all(rows.filter((i) => parseOwner(i.owner)?.kind === 'pull').map(view));
    },
    async destroyOwner(owner) {
      const live = await service.list({ owner });
      for (const i of live) await service.destroy(i.id);
      return live.length;
    },
    async refreshLifetime(owner, sighting = {}) {
      if (owner.kind !== 'pull') return;
      const { idle, pull } = deps.lifetimes;
      // Idle expiry counts from pushes only; otherwise any sighting keeps a pull request's instances alive.
      const ttl = idle > 0 ? (sighting.push ? idle : 0) : pull;
      if (ttl <= 0) return;
      const until = clock.now() + ttl * 1000;
      for (const i of await service.list({ owner })) {
        // Never shortens one (a /myaas extend), and writes at most hourly.
        if (i.desired !== 'present' || (i.expiresAt && until - i.expiresAt.getTime() < REFRESH_AFTER_MS)) continue;
        await store.updateInstance(i.id, { expiresAt: new Date(until) });
        if (idle > 0) deps.changes.publish(i.id); // the comment shows the new expiry
      }
    },
    async extendOwner(owner, seconds) {
      const live = (await service.list({ owner })).filter((i) => i.desired === 'present');
      for (const i of live) {
        const from = Math.max(clock.now(), i.expiresAt?.getTime() ?? clock.now());
        await store.updateInstance(i.id, { expiresAt: new Date(from + seconds * 1000) });
        deps.changes.publish(i.id);
      }
      return live.length;
    },
    async protectOwner(owner, on) {
      const live = (await service.list({ owner })).filter((i) => i.desired === 'present');
      for (const i of live) {
        await store.updateInstance(i.id, { protected: on });
        deps.changes.publish(i.id);
      }
      return live.length;
    },
    async resetOwner(owner) {
      const live = (await service.list({ owner })).filter((i) => i.desired === 'present');
      for (const i of live) await service.reset(i.id);
      return live.length;
    },
    async schemaDiff(id) {
      const i = await mustGet(id);
      if (i.status !== 'ready' || !i.port || !i.versionId) {
        throw new AppError('conflict', `instance ${i.name} is ${i.status}: a schema diff needs it ready`);
      }
      const v = await store.getVersion(i.versionId);
      if (!v?.schemaSnapshot) {
        throw new AppError(
          'conflict',
          `template version ${i.versionId} has no schema snapshot yet (it is read when the version's first instance starts): reset this instance, or re-import the template`,
        );
      }
      const engine = deps.engines(i.engine);
      const now = await engine.readSchema({ host: i.host ?? deps.probeHost, port: i.port, user: engine.adminUser, password: i.password, database: v.database ?? '' });
      const diff = diffSchemas(JSON.parse(v.schemaSnapshot) as SchemaSnapshot, now);
      const at = new Date(clock.now());
      await store.updateInstance(id, { schemaDiff: JSON.stringify(diff), schemaDiffAt: at });
      deps.changes.publish(id);
      return { diff, summary: schemaDiffSummary(diff), markdown: renderSchemaDiffMarkdown(diff), at };
    },
    onChange(listener) {
      return deps.changes.subscribe((id) => {
        void store
          .getInstance(id)
          .then((i) => (i && !isPool(i) ? view(i).then(listener) : undefined))
          .catch(() => undefined);
      });
    },
  };
  return service;
}
