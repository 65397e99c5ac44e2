// Level-triggered convergence of instances, one instance at a time per key: compares what the state DB
// wants with what Docker and the pool hold, and acts. Safe to run again at any point after a crash.
import { AppError, messageOf } from '../domain/errors.js';
import type { Logger } from '../domain/ports.js';
import type { InstanceRecord } from '../domain/types.js';
import type { Store } from '../db/store.js';
import type { Importer } from './importer.js';
import { freePort, type PortRange } from './ports.js';
import { provision, teardown, type ProvisionDeps, type Timings } from './provision.js';

export interface ReconcilerDeps extends ProvisionDeps {
  store: Store;
  importer: Pick<Importer, 'runningTemplates'>;
  portRange: PortRange;
  log: Logger;
  /** at most this many instances provision at once */
  concurrency?: number;
}

type Listener = (id: string) => void;

export function createReconciler(deps: ReconcilerDeps) {
  const { store, log } = deps;
  const pending = new Map<string, Promise<void>>();
  const again = new Set<string>();
  const listeners = new Set<Listener>();
  const timings = new Map<string, Timings>();
  let slots = deps.concurrency ?? 8;
  const waiting: Array<() => void> = [];

  const notify = (id: string) => {
    for (const l of listeners) {
      try {
        l(id);
      } catch (e) {
        log.warn({ err: messageOf(e) }, 'instance change listener failed');
      }
    }
  };
  const set = async (id: string, patch: Parameters<Store['updateInstance']>[1]) => {
    await store.updateInstance(id, patch);
    notify(id);
  };
  async function slot<T>(fn: () => Promise<T>): Promise<T> {
    if (slots === 0) await new Promise<void>((r) => waiting.push(r));
    else slots--;
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else slots++;
    }
  }

  async function destroy(i: InstanceRecord): Promise<void> {
    if (i.status !== 'destroying') await set(i.id, { status: 'destroying' });
    await teardown(deps, i.id);
    await set(i.id, { status: 'destroyed', destroyedAt: new Date(), containerId: null });
    log.info({ instance: i.id, name: i.name }, 'instance destroyed');
  }

  async function bringUp(i: InstanceRecord, keepClone: boolean): Promise<void> {
    const ilog = log.child({ instance: i.id, name: i.name, template: i.template });
    const rebuilding = i.generation !== i.appliedGeneration || !i.versionId;
    const version = rebuilding
      ? i.pinnedVersionId
        ? await store.getVersion(i.pinnedVersionId)
        : await store.latestReady(i.template)
      : await store.getVersion(i.versionId!);
    if (!version || (version.status !== 'ready' && version.status !== 'retired')) {
      if (deps.importer.runningTemplates().includes(i.template)) return; // woken again when the import ends
      await set(i.id, {
        status: 'failed',
        error: `template "${i.template}" has no ready version: import it (myaas import ${i.template}) and reset this instance`,
      });
      return;
    }
    if (i.status !== 'provisioning') await set(i.id, { status: 'provisioning' });
    let port = i.port;
    if (deps.portRange && port === null) {
      port = await freePort(store, deps.portRange);
      await store.updateInstance(i.id, { port });
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await provision(deps, { ...i, port }, version, (containerId, p) => store.updateInstance(i.id, { containerId, port: p }), { keepClone });
        timings.set(i.id, r.timings);
        // Only mark ready if nobody asked for something else meanwhile (destroy, reset).
        const now = await store.getInstance(i.id);
        if (!now || now.desired === 'absent' || now.generation !== i.generation) return;
        await set(i.id, {
          status: 'ready',
          versionId: version.id,
          appliedGeneration: i.generation,
          port: r.port,
          containerId: r.containerId,
          readyAt: new Date(),
          error: null,
        });
        ilog.info({ version: version.id, port: r.port, ...r.timings }, 'instance ready');
        return;
      } catch (e) {
        // A pooled port taken by something outside myaas: move to another one of the pool.
        if (deps.portRange && e instanceof AppError && e.code === 'conflict' && attempt < 5) {
          port = await freePort(store, deps.portRange, [port!]);
          await store.updateInstance(i.id, { port });
          continue;
        }
        throw e;
      }
    }
  }

  async function converge(id: string): Promise<void> {
    const i = await store.getInstance(id);
    if (!i || i.status === 'destroyed') return;
    if (i.desired === 'absent') return destroy(i);
    const current = i.generation === i.appliedGeneration;
    if (i.status === 'failed' && current) return;
    let keepClone = false;
    if (i.status === 'ready' && current) {
      const c = i.containerId ? await deps.runtime.inspect(i.containerId) : null;
      if (c?.running) return;
      log.warn({ instance: id, name: i.name }, 'container of a ready instance is gone; starting it again on its data');
      keepClone = true;
    }
    try {
      await slot(() => bringUp(i, keepClone));
    } catch (e) {
      const error = messageOf(e);
      log.error({ instance: id, err: error }, 'provisioning failed');
      const now = await store.getInstance(id);
      if (now && now.desired === 'present' && now.generation === i.generation) await set(id, { status: 'failed', error });
    }
  }

  const locks = new Map<string, Promise<unknown>>();
  /** Runs fn with nothing else acting on instance `id` at the same time (convergence, warm-pool claims). */
  function exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = locks.get(id) ?? Promise.resolve();
    const p = prev.catch(() => {}).then(fn);
    locks.set(id, p);
    void p.catch(() => {}).finally(() => {
      if (locks.get(id) === p) locks.delete(id);
    });
    return p;
  }

  /** Converges one instance; calls for the same id run one after another, repeats coalesce. */
  function wake(id: string): Promise<void> {
    const running = pending.get(id);
    if (running) {
      again.add(id);
      return running;
    }
    const p = (async () => {
      do {
        again.delete(id);
        try {
          await exclusive(id, () => converge(id));
        } catch (e) {
          log.error({ instance: id, err: messageOf(e) }, 'reconcile step failed; will retry on the next sweep');
        }
      } while (again.has(id));
    })().finally(() => pending.delete(id));
    pending.set(id, p);
    return p;
  }

  return {
    wake,
    exclusive,
    /** Wakes every live instance of a template (after its import finished). */
    async wakeTemplate(template: string): Promise<void> {
      await Promise.all((await store.listLive()).filter((i) => i.template === template).map((i) => wake(i.id)));
    },
    onChange(l: Listener): () => void {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    notify,
    /** Timings of the instance's last provisioning, once (so each is counted once). */
    takeTimings(id: string): Timings | null {
      const t = timings.get(id) ?? null;
      timings.delete(id);
      return t;
    },
    async idle(): Promise<void> {
      while (pending.size) await Promise.allSettled([...pending.values()]);
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
