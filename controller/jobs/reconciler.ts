// Level-triggered convergence of instances, one pass at a time per instance: reads what the state DB
// wants, looks at what Docker and the pool hold, and takes the one step domain/lifecycle.ts names.
// The only code that makes an instance ready. Safe to run again at any point after a crash.
import { AppError, messageOf, UniqueViolation } from '../domain/errors.js';
import { isBehind, nextStep, wantsNewVersion } from '../domain/lifecycle.js';
import { pickPort, type PortRange } from '../domain/port-range.js';
import type { InstanceRecord, TemplateVersion } from '../domain/types.js';
import { createKeyedQueue } from '../lib/keyed-queue.js';
import type { Handover, HandoverBook, Importer, InstanceChanges, InstancePatch, Logger, Reconciler, Store, Telemetry } from '../app/ports.js';
import { provision, secure, teardown, type ProvisionDeps } from './provision.js';

export interface ReconcilerDeps extends ProvisionDeps {
  store: Store;
  importer: Pick<Importer, 'runningTemplates'>;
  /** claims of warm instances waiting for their handover */
  handovers: Pick<HandoverBook, 'take'>;
  changes: InstanceChanges;
  telemetry: Telemetry;
  portRange: PortRange | null;
  log: Logger;
  /** at most this many instances provision at once */
  concurrency?: number;
}

export function createReconciler(deps: ReconcilerDeps): Reconciler {
  const { store, log, clock } = deps;
  const queue = createKeyedQueue();
  let slots = deps.concurrency ?? 8;
  const waiting: Array<() => void> = [];

  const set = async (id: string, patch: InstancePatch) => {
    await store.updateInstance(id, patch);
    deps.changes.publish(id);
  };

  /** Docker and the pool take only so many clones and starts at once before everything slows down. */
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

  async function destroy(i: InstanceRecord, ilog: Logger): Promise<void> {
    if (i.status !== 'destroying') await set(i.id, { status: 'destroying' });
    await teardown(deps, i.id);
    await set(i.id, { status: 'destroyed', destroyedAt: new Date(clock.now()), containerId: null });
    ilog.info('instance destroyed');
  }

  /** The version a (re)build clones, or null when there is none yet (after marking why, if it will not come). */
  async function targetVersion(i: InstanceRecord): Promise<TemplateVersion | null> {
    const version = wantsNewVersion(i)
      ? i.pinnedVersionId
        ? await store.getVersion(i.pinnedVersionId)
        : await store.latestReady(i.template)
      : await store.getVersion(i.versionId!);
    if (version && (version.status === 'ready' || version.status === 'retired')) return version;
    if (deps.importer.runningTemplates().includes(i.template)) return null; // woken again when the import ends
    await set(i.id, {
      status: 'failed',
      error: `template "${i.template}" has no ready version: import it (myaas import ${i.template}) and reset this instance`,
    });
    return null;
  }

  /** Marks ready unless the owner asked for something else meanwhile (destroy, reset, another claim). */
  async function markReady(i: InstanceRecord, patch: InstancePatch): Promise<boolean> {
    const now = await store.getInstance(i.id);
    if (!now || now.desired === 'absent' || now.generation !== i.generation) return false;
    await set(i.id, { ...patch, status: 'ready', appliedGeneration: i.generation, readyAt: new Date(clock.now()), error: null });
    return true;
  }

  /** A free port of MYAAS_PORT_RANGE for instance `id`; the unique index settles races between instances. */
  async function assignPort(id: string, avoid: number[]): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const port = pickPort(deps.portRange!, await store.livePorts(), avoid);
      try {
        await store.updateInstance(id, { port });
        return port;
      } catch (e) {
        if (!(e instanceof UniqueViolation && e.index === 'instances_port_live') || attempt >= 10) throw e;
        avoid = [...avoid, port];
      }
    }
  }

  async function bringUp(i: InstanceRecord, keepClone: boolean, ilog: Logger): Promise<void> {
    const version = await targetVersion(i);
    if (!version) return;
    if (i.status !== 'provisioning') await set(i.id, { status: 'provisioning' });
    let port = i.port;
    if (deps.portRange && port === null) port = await assignPort(i.id, []);
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await provision(deps, { ...i, port }, version, {
          keepClone,
          log: ilog,
          onContainer: (containerId, p) => store.updateInstance(i.id, { containerId, port: p }),
        });
        if (await markReady(i, { versionId: version.id, port: r.port, containerId: r.containerId })) {
          deps.telemetry.provisioned(r.timings, { template: i.template, engine: i.engine });
          ilog.info({ version: version.id, port: r.port, ...r.timings }, 'instance ready');
        }
        return;
      } catch (e) {
        // A pooled port taken by something outside myaas: move to another one of the pool.
        if (deps.portRange && e instanceof AppError && e.code === 'conflict' && attempt < 5) {
          port = await assignPort(i.id, [port!]);
          continue;
        }
        throw e;
      }
    }
  }

  /** A claimed warm instance: its server runs on a clone of latest; only the password changes hands. */
  async function handover(i: InstanceRecord, h: Handover, ilog: Logger): Promise<boolean> {
    if (!i.port || !i.versionId) return false;
    const version = await store.getVersion(i.versionId);
    if (!version) return false;
    const t0 = clock.now();
    try {
      const session = await h.session?.catch(() => null);
      const conn = { host: deps.probeHost, port: i.port, database: version.database ?? '' };
      await secure(clock, deps.engines(i.engine), conn, { current: h.previousPassword, next: i.password }, t0 + deps.readyTimeoutMs, session);
    } catch (e) {
      ilog.warn({ err: messageOf(e) }, 'warm instance did not take its new password; rebuilding it');
      return false;
    }
    if (await markReady(i, {})) ilog.info({ ms: clock.now() - t0 }, 'handed out a warm instance');
    return true;
  }

  async function converge(id: string): Promise<void> {
    const i = await store.getInstance(id);
    if (!i) return;
    const ilog = log.child({ instance: id, name: i.name, template: i.template });
    const h = isBehind(i) ? deps.handovers.take(id) : null;
    const todo = nextStep(i, { handoverPending: h !== null });
    if (h && todo !== 'handover') void h.session?.then((s) => s.close()).catch(() => undefined);
    switch (todo) {
      case 'nothing':
        return;
      case 'destroy':
        return destroy(i, ilog);
      case 'check': {
        const c = i.containerId ? await deps.runtime.inspect(i.containerId) : null;
        if (c?.running) return;
        ilog.warn('container of a ready instance is gone; starting it again on its data');
        return provisionOrFail(i, true, ilog);
      }
      case 'handover':
        if (await handover(i, h as Handover, ilog)) return;
        return provisionOrFail(i, false, ilog);
      case 'provision':
        return provisionOrFail(i, false, ilog);
    }
  }

  async function provisionOrFail(i: InstanceRecord, keepClone: boolean, ilog: Logger): Promise<void> {
    try {
      await slot(() => bringUp(i, keepClone, ilog));
    } catch (e) {
      const error = messageOf(e);
      ilog.error({ err: error }, 'provisioning failed');
      const now = await store.getInstance(i.id);
      if (now && now.desired === 'present' && now.generation === i.generation) await set(i.id, { status: 'failed', error });
    }
  }

  const wake = (id: string): Promise<void> =>
    queue.coalesce(id, async () => {
      const t0 = clock.now();
      const outcome = await converge(id).then(
        () => 'ok' as const,
        (e) => {
          log.error({ instance: id, err: messageOf(e) }, 'reconcile step failed; will retry on the next sweep');
          return 'error' as const;
        },
      );
      deps.telemetry.reconciled({ outcome, durationMs: clock.now() - t0 });
    });

  return {
    wake,
    async wakeAll(filter = {}) {
      await Promise.all((await store.listLive({ template: filter.template })).map((i) => wake(i.id)));
    },
    idle: () => queue.idle(),
  };
}
