// Level-triggered convergence of instances, one pass at a time per instance: reads what the state DB
// wants, looks at what Docker and the pool hold, and takes the one step domain/lifecycle.ts names.
// The only code that makes an instance ready. Safe to run again at any point after a crash.
// Failures are retried with growing pauses; the engine's events (a server that died, an
// out-of-memory kill) wake the instance at once instead of at the next sweep.
import { AppError, messageOf, UniqueViolation } from '../domain/errors.js';
import { instanceSelector, LABEL } from '../domain/labels.js';
import { afterFailure, HOLDS_CAPACITY, isBehind, nextStep, STABLE_AFTER_MS, wantsNewVersion, type Failure } from '../domain/lifecycle.js';
import { baseTemplate } from '../domain/names.js';
import { parseOwner, repoOf } from '../domain/owner.js';
import { pickPort, type PortRange } from '../domain/port-range.js';
import type { InstanceRecord, TemplateVersion } from '../domain/types.js';
import { createKeyedQueue } from '../lib/keyed-queue.js';
import type {
  Handover,
  HandoverBook,
  Importer,
  InstanceChanges,
  InstancePatch,
  Logger,
  Reconciler,
  RuntimeEvent,
  Store,
  SuspendSteps,
  Telemetry,
} from '../app/ports.js';
import { provision, runAgain, secure, teardown, type ProvisionDeps } from './provision.js';
import { faultOf, oomNotRecovered, oomRecovered, stoppedOnItsOwn } from './faults.js';

export interface ReconcilerDeps extends ProvisionDeps {
  store: Store;
  importer: Pick<Importer, 'runningTemplates'>;
  /** claims of warm instances waiting for their handover */
  handovers: Pick<HandoverBook, 'take'>;
  changes: InstanceChanges;
  telemetry: Telemetry;
  portRange: PortRange | null;
  /** automatic attempts after a failure before an instance is left failed */
  retryAttempts: number;
  /** instances holding a clone or container at once, on this host and per repository; the rest wait (queued) */
  capacity: { max: number; perRepo: number };
  log: Logger;
  /** at most this many instances provision at once */
  concurrency?: number;
}

/** A failure that another attempt cannot fix. */
class Permanent extends Error {}

/** How long a server that lost a process to an out-of-memory kill has to answer again before it is restarted. */
const OOM_RECOVERY_MS = 30_000;

export function createReconciler(deps: ReconcilerDeps): Reconciler {
  const { store, log, clock } = deps;
  const queue = createKeyedQueue();
  const timers = new Map<string, NodeJS.Timeout>();
  // Instances whose container reported an out-of-memory kill since we last looked.
  const oomSeen = new Set<string>();
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

  /** Wakes `id` when its next attempt is due (the periodic sweep does it too, after a restart). */
  function wakeAt(id: string, at: Date): void {
    clearTimeout(timers.get(id));
    const t = setTimeout(() => {
      timers.delete(id);
      void wake(id);
    }, Math.max(0, at.getTime() - clock.now()));
    t.unref?.();
    timers.set(id, t);
  }

  async function destroy(i: InstanceRecord, ilog: Logger): Promise<void> {
    if (i.status !== 'destroying') await set(i.id, { status: 'destroying' });
    await teardown(deps, i.id);
    await set(i.id, { status: 'destroyed', destroyedAt: new Date(clock.now()), containerId: null, retryAt: null });
    ilog.info('instance destroyed');
    if (i.status !== 'queued') void admit();
  }

  /**
   * Lets queued instances start while there is room: oldest first (a pull request's instances are
   * created when it opens, so that is oldest pull request first), within the host's and each
   * repository's cap. One admission at a time, so concurrent creates cannot both take the last place.
   */
  function admit(): Promise<void> {
    return queue.run('\u0000admission', async () => {
      const queued = await store.listLive({ status: ['queued'] });
      if (!queued.length) return;
      const active = [...HOLDS_CAPACITY];
      let total = await store.countLive({ status: active });
      const perRepo = new Map<string, number>();
      for (const q of queued) {
        if (total >= deps.capacity.max) break;
        const repo = repoOf(parseOwner(q.owner) ?? { kind: 'api', name: '' });
        if (repo) {
          const held =
            perRepo.get(repo) ??
            (await store.countLive({ status: active, ownerPrefix: `gh:${repo}#` })) + (await store.countLive({ status: active, ownerPrefix: `gh:${repo}@` }));
          if (held >= deps.capacity.perRepo) {
            perRepo.set(repo, held);
            continue;
          }
          perRepo.set(repo, held + 1);
        }
        total++;
        await set(q.id, { status: 'provisioning' });
        void wake(q.id);
      }
    });
  }

  /** The version a (re)build clones, or null while an import of the template runs (it wakes us when done). */
  async function targetVersion(i: InstanceRecord): Promise<TemplateVersion | null> {
    const version = wantsNewVersion(i)
      ? i.pinnedVersionId
        ? await store.getVersion(i.pinnedVersionId)
        : await store.latestReady(i.template)
      : await store.getVersion(i.versionId!);
    if (version && (version.status === 'ready' || version.status === 'retired')) return version;
    // A schema-only variant comes with its base template's import.
    if (deps.importer.runningTemplates().includes(baseTemplate(i.template))) return null;
    const [last] = await store.listVersions({ template: i.template });
    throw new Permanent(
      // The import's own words stay with the template (admins see them): they may quote the data.
      last?.status === 'failed'
        ? `template "${i.template}" has no ready version: its last import failed (an admin sees why: myaas templates); fix the dump and run \`myaas import ${i.template}\`, then reset this instance`
        : `template "${i.template}" has no ready version: import it (myaas import ${i.template}) and reset this instance`,
    );
  }

  /** Marks ready unless the owner asked for something else meanwhile (destroy, reset, another claim). */
  async function markReady(i: InstanceRecord, patch: InstancePatch): Promise<boolean> {
    const now = await store.getInstance(i.id);
    if (!now || now.desired === 'absent' || now.generation !== i.generation) return false;
    await set(i.id, { ...patch, status: 'ready', appliedGeneration: i.generation, readyAt: new Date(clock.now()), error: null, retryAt: null });
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
    if (!version) {
      if (i.status !== 'provisioning') await set(i.id, { status: 'provisioning' });
      return;
    }
    if (i.status !== 'provisioning') await set(i.id, { status: 'provisioning' });
    let port = i.port;
    let moved: string | null = null;
    if (deps.portRange && port === null) port = await assignPort(i.id, []);
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await provision(deps, { ...i, port }, version, {
          keepClone,
          log: ilog,
          onContainer: (containerId, p, host) => store.updateInstance(i.id, { containerId, port: p, host }),
        });
        if (!keepClone && !version.schemaSnapshot) await snapshotSchema(version, r.host ?? deps.probeHost, r.port, i.password, ilog);
        // A restart keeps counting attempts: a server that stops again soon is crashing in a loop.
        const attempts = keepClone ? i.attempts : 0;
        if (await markReady(i, { versionId: version.id, port: r.port, host: r.host, containerId: r.containerId, attempts, ...(moved ? { lastFault: moved } : {}) })) {
          deps.telemetry.provisioned(r.timings, { template: i.template, engine: i.engine });
          ilog.info({ version: version.id, port: r.port, ...r.timings }, keepClone ? 'instance running again' : 'instance ready');
        }
        return;
      } catch (e) {
        // A pooled port taken by something outside myaas: move to another one of the pool.
        if (deps.portRange && e instanceof AppError && e.code === 'conflict' && attempt < 5) {
          port = await assignPort(i.id, [port!]);
          continue;
        }
        // Its own port, once chosen by Docker from the ephemeral range, was taken while its server was
        // down (another engine's container, a client's outgoing connection): rather than fail for good,
        // let Docker choose again. The new URL is announced like any change; MYAAS_PORT_RANGE avoids this.
        if (!deps.portRange && port !== null && e instanceof AppError && e.code === 'conflict' && /host port/.test(e.message) && attempt < 5) {
          ilog.warn({ port }, 'its port is taken by another program; moving it to a port Docker chooses');
          moved = `its port ${port} was taken by another program while its server was stopped; it now listens on another port (set MYAAS_PORT_RANGE below 32768 to keep ports)`;
          port = null;
          continue;
        }
        throw e;
      }
    }
  }

  /**
   * The first instance of a version, before anyone used it, is the template itself: its schema is read
   * then, once, as the baseline of every later schema diff of that version's instances.
   */
  async function snapshotSchema(version: TemplateVersion, host: string, port: number, password: string, ilog: Logger): Promise<void> {
    try {
      const engine = deps.engines(version.engine);
      const snap = await engine.readSchema({ host, port, user: engine.adminUser, password, database: version.database ?? '' });
      await store.updateVersion(version.id, { schemaSnapshot: JSON.stringify(snap) });
      version.schemaSnapshot = JSON.stringify(snap);
    } catch (e) {
      ilog.warn({ version: version.id, err: messageOf(e) }, 'could not read the template version\'s schema; schema diffs wait for its next instance');
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
      const conn = { host: i.host ?? deps.probeHost, port: i.port, database: version.database ?? '' };
      await secure(clock, deps.engines(i.engine), conn, { current: h.previousPassword, next: i.password }, t0 + deps.readyTimeoutMs, session);
    } catch (e) {
      ilog.warn({ err: messageOf(e) }, 'warm instance did not take its new password; rebuilding it');
      return false;
    }
    if (await markReady(i, {})) ilog.info({ ms: clock.now() - t0 }, 'handed out a warm instance');
    return true;
  }

  /** A ready instance whose server is not running: say why, then start it again (or later, if it keeps stopping). */
  async function recover(i: InstanceRecord, ilog: Logger): Promise<void> {
    // On a cluster, Swarm starts the server again itself: on its node (the service is held there), or
    // elsewhere once its node is lost, which is a move (a fresh clone), said as such.
    const placed = deps.cluster && i.host && i.containerId ? (await runAgain(deps, i.containerId))?.node : null;
    if (placed && placed.addr !== i.host) return moved(i, placed.hostname, ilog);
    const c = i.containerId ? await deps.runtime.inspect(i.containerId) : null;
    const oom = oomSeen.delete(i.id);
    const fault = faultOf(c && oom ? { ...c, oomKilled: true } : c, deps.memoryBytes, new Date(clock.now()));
    ilog.warn({ fault }, 'the server of a ready instance stopped; starting it again on its data');
    const ranMs = i.readyAt ? clock.now() - i.readyAt.getTime() : Infinity;
    // A server stopped from outside (an engine restart, a host shutdown) is not crashing: back at once.
    const looping = ranMs < STABLE_AFTER_MS && stoppedOnItsOwn(c && oom ? { ...c, oomKilled: true } : c);
    const next = { ...i, attempts: looping ? i.attempts : 0, lastFault: fault };
    if (looping) {
      const after = afterFailure(next, { error: `the server keeps stopping: ${fault}`, retryable: true }, deps.retryAttempts, clock.now());
      await set(i.id, { ...after, lastFault: fault });
      if (after.retryAt) wakeAt(i.id, after.retryAt);
      return;
    }
    await set(i.id, { lastFault: fault, attempts: 0 });
    await provisionOrFail(next, true, ilog);
  }

  async function converge(id: string): Promise<void> {
    const i = await store.getInstance(id);
    if (!i) return;
    const ilog = log.child({ instance: id, name: i.name, template: i.template });
    const h = isBehind(i) ? deps.handovers.take(id) : null;
    const todo = nextStep(i, { handoverPending: h !== null, now: clock.now() });
    if (h && todo !== 'handover') void h.session?.then((s) => s.close()).catch(() => undefined);
    switch (todo) {
      case 'nothing':
        return;
      case 'wait':
        return wakeAt(id, i.retryAt!);
      case 'destroy':
        return destroy(i, ilog);
      case 'check': {
        const c = i.containerId ? await deps.runtime.inspect(i.containerId) : null;
        // On a cluster, Swarm replaces the task of a lost node on another node: a new server on a fresh
        // clone of the version the service was made with. The instance is made again, on the latest.
        if (deps.cluster && i.host && c?.node && c.node.addr !== i.host) return moved(i, c.node.hostname, ilog);
        if (c?.running) {
          if (!oomSeen.delete(id)) return;
          // The kernel killed one of the server's processes (a query) and the server carried on: tell the
          // owner. A server restarts its other processes and recovers by itself within a second or two;
          // one that still does not answer is started again on its data.
          const when = new Date(clock.now());
          await set(id, { lastFault: oomRecovered(deps.memoryBytes, when) });
          if (await answers(i)) return;
          const fault = oomNotRecovered(deps.memoryBytes, when, OOM_RECOVERY_MS);
          ilog.warn({ fault }, 'the server did not recover from an out-of-memory kill; starting it again on its data');
          await set(id, { lastFault: fault, attempts: 0 });
          return provisionOrFail({ ...i, lastFault: fault, attempts: 0 }, true, ilog);
        }
        return recover(i, ilog);
      }
      case 'handover':
        if (await handover(i, h as Handover, ilog)) return;
        return provisionOrFail(i, false, ilog);
      case 'restart':
        return provisionOrFail(i, true, ilog);
      case 'provision':
        return provisionOrFail(i, false, ilog);
    }
  }

  /** Whether the instance's server takes its own credentials within OOM_RECOVERY_MS. */
  async function answers(i: InstanceRecord): Promise<boolean> {
    const version = i.versionId ? await store.getVersion(i.versionId) : null;
    if (!i.port || !version) return true;
    const engine = deps.engines(i.engine);
    const conn = { host: i.host ?? deps.probeHost, port: i.port, database: version.database ?? '', user: engine.adminUser, password: i.password };
    return engine.probe(conn, clock.now() + OOM_RECOVERY_MS).then(() => true, () => false);
  }

  /** A cluster instance whose node was lost: made again from its template's latest version (data reset). */
  async function moved(i: InstanceRecord, node: string, ilog: Logger): Promise<void> {
    const fault = `its node (${i.host}) was lost on ${new Date(clock.now()).toISOString()}: the instance was made again on ${node} from the template's latest version; its data was reset`;
    ilog.warn({ from: i.host, to: node }, 'the node of a ready instance was lost; making the instance again on another node');
    await set(i.id, { lastFault: fault, attempts: 0, versionId: null });
    await provisionOrFail({ ...i, lastFault: fault, attempts: 0, versionId: null }, false, ilog);
  }

  async function provisionOrFail(i: InstanceRecord, keepClone: boolean, ilog: Logger): Promise<void> {
    try {
      await slot(() => bringUp(i, keepClone, ilog));
    } catch (e) {
      const failure: Failure = { error: messageOf(e), retryable: !(e instanceof Permanent) };
      const now = await store.getInstance(i.id);
      if (!now || now.desired !== 'present' || now.generation !== i.generation) return;
      const after = afterFailure(now, failure, deps.retryAttempts, clock.now());
      ilog.error({ err: failure.error, attempts: after.attempts, retryAt: after.retryAt }, after.status === 'retrying' ? 'provisioning failed; will retry' : 'provisioning failed');
      await set(i.id, after);
      if (after.retryAt) wakeAt(i.id, after.retryAt);
      else void admit(); // a failed instance holds nothing: its place goes to the next in line
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

  async function retryNow(id: string): Promise<void> {
    const i = await store.getInstance(id);
    if (!i || i.desired !== 'present' || (i.status !== 'failed' && i.status !== 'retrying')) return;
    await set(id, { status: 'provisioning', attempts: 0, retryAt: null });
    await wake(id);
  }

  // Called without awaiting (after an import, on a resync): it never rejects. A store that is gone (the
  // controller shutting down) or unreachable is logged; the next resync or start-up sweep wakes them.
  async function wakeAll(filter: { template?: string; retryFailed?: boolean } = {}): Promise<void> {
    try {
      await Promise.all(
        (await store.listLive({ template: filter.template })).map((i) =>
          // Instances that failed for want of a template version get one more chance when an import ends.
          filter.retryFailed && i.status === 'failed' && i.versionId === null ? retryNow(i.id) : wake(i.id),
        ),
      );
    } catch (e) {
      log.warn({ template: filter.template, err: messageOf(e) }, 'could not wake the instances; the next resync or start will');
    }
  }

  // Idle suspension (jobs/suspender.ts decides when): in the instance's turn, like every other step.
  function suspend(id: string, steps: SuspendSteps): Promise<boolean> {
    return queue.run(id, async () => {
      const i = await store.getInstance(id);
      if (!i || i.status !== 'ready' || i.desired !== 'present' || isBehind(i)) return false;
      if (!(await steps.beforeStop(i))) return false;
      const ilog = log.child({ instance: id, name: i.name, template: i.template });
      // Suspended first: the server's exit (a Docker event) then wakes nothing.
      await set(id, { status: 'suspended' });
      try {
        // A clean shutdown: the next start needs no crash recovery.
        if (i.containerId) await deps.runtime.stop(i.containerId, { signal: deps.engines(i.engine).stopSignal, timeoutSec: 10 });
        await deps.runtime.removeAll(instanceSelector(deps.home, id));
        await steps.onStopped({ ...i, status: 'suspended', containerId: null });
        // Recorded once the listener is up: a suspended instance without a container is one that wakes.
        await set(id, { containerId: null });
        ilog.info({ port: i.port }, 'instance suspended (idle); a client connection wakes it');
        return true;
      } catch (e) {
        // Whatever stopped half-way, the restart road puts it right: nobody is left facing a dead port.
        ilog.warn({ err: messageOf(e) }, 'could not suspend the instance; starting it again');
        await set(id, { status: 'provisioning', containerId: null });
        setImmediate(() => void wake(id));
        return false;
      }
    });
  }

  async function resume(id: string): Promise<void> {
    const flipped = await queue.run(id, async () => {
      const i = await store.getInstance(id);
      if (!i || i.status !== 'suspended' || i.desired !== 'present') return false;
      // Provisioning on a built clone: nextStep says restart, the road of any stopped server.
      await set(id, { status: 'provisioning' });
      return true;
    });
    if (flipped) void wake(id);
  }

  return {
    wake,
    wakeAll,
    suspend,
    resume,
    observe(e: RuntimeEvent) {
      if (e.kind === 'resynced') return void wakeAll();
      const id = e.labels[LABEL.instance];
      if (id && e.kind === 'oom') oomSeen.add(id);
      // A start is our own doing; a death, an OOM kill or a removal may need an answer.
      if (id && e.kind !== 'started') void wake(id);
    },
    retryNow,
    admit,
    idle: () => queue.idle(),
    close() {
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    },
  };
}
