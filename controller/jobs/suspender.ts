// Idle instances cost nothing (MYAAS_IDLE_SUSPEND): a ready instance whose server has had no client
// connection for that long is suspended (server stopped, container removed, clone, port and password
// kept), and the controller listens on its port meanwhile. The first client connection is held, unread,
// while the reconciler starts the server again on the same clone and port; once it is ready the held
// connection(s) are piped to it, so that client never sees an error. Later clients reach the server's
// published port directly: a running instance has no proxy in its path.
//
// Between the idle check and the listener taking the port, the server shuts down and its container
// goes: a client arriving then would meet a server that refuses it ("shutting down") or a closed port.
// So, in the instance's turn right before its server stops, new connections to its port are held off
// at the host's firewall (their SYN dropped: the client's TCP stack sends it again a second later) and
// the server is asked once more, over a connection opened just before, for every client connection,
// those still logging in included: one that came since the idle check keeps it running (the held-off
// clients then reach it); none, and the server stops, the listener takes the port and the hold is
// lifted, so the held-off clients reach the listener and wake it. (A wake cannot be covered the same
// way: the reconciler's own readiness probe goes through that port.)
//
// When each instance was last seen busy is kept in memory, not in the state DB: after a controller
// restart every instance simply counts as busy from then on, which only delays a suspension by one idle
// period and never suspends early, and it spares the state DB a write per instance per poll.
import { messageOf } from '../domain/errors.js';
import { isIdleFor, maySuspend } from '../domain/lifecycle.js';
import { POOL_PREFIX } from '../domain/owner.js';
import type { InstanceRecord } from '../domain/types.js';
import type { Clock, Engines, HeldConnection, InstanceChanges, Logger, Reconciler, Store, WakeListeners } from '../app/ports.js';

export interface SuspenderDeps {
  store: Pick<Store, 'listLive' | 'getInstance'>;
  reconciler: Pick<Reconciler, 'suspend' | 'resume'>;
  engines: Engines;
  listeners: WakeListeners;
  changes: InstanceChanges;
  clock: Clock;
  log: Logger;
  /** MYAAS_IDLE_SUSPEND in ms; 0: never suspend (suspended instances still get their listeners) */
  idleMs: number;
  /** where the instances' ports are published (MYAAS_PUBLISH_IP) and where the controller reaches them */
  publishIp: string;
  probeHost: string;
  /** idle checks at once (each is one short connection to a server) */
  concurrency?: number;
}

export interface Suspender {
  /** One pass: asks every ready instance's server whether a client is connected; suspends those idle long enough. */
  poll(): Promise<{ checked: number; suspended: number }>;
  /** Start-up: suspended instances get their listeners again; answers how many. */
  restore(): Promise<number>;
  /** Lets go of `id`'s port (its container is about to bind it); connections already held stay held. */
  release(id: string): Promise<void>;
  /** Instances with a listener now. */
  parked(): string[];
  close(): Promise<void>;
}

/** After holding off new connections, how long those that got in just before may take to reach the server. */
const HOLD_SETTLE_MS = 50;

/** How often to poll: a third of the idle time (a suspension comes at most that late), 1 s to 30 s. */
export function pollEveryMs(idleMs: number): number {
  return Math.min(30_000, Math.max(1000, Math.round(idleMs / 3)));
}

interface Parked {
  port: number;
  listening: boolean;
  waking: boolean;
  held: HeldConnection[];
}

/** New connections to one port held off (close) until let through again (open; twice is harmless). */
interface Door {
  close(): Promise<void>;
  open(): Promise<void>;
}

export function createSuspender(deps: SuspenderDeps): Suspender {
  const { store, clock, log, listeners } = deps;
  const lastBusy = new Map<string, number>();
  const parked = new Map<string, Parked>();
  const startedAt = clock.now();

  async function park(i: InstanceRecord): Promise<void> {
    const p: Parked = { port: i.port!, listening: false, waking: false, held: [] };
    parked.set(i.id, p);
    // Docker's port proxy may let go of the port a moment after the container is removed.
    for (let attempt = 1; ; attempt++) {
      try {
        await listeners.listen(deps.publishIp, p.port, (c) => onConnection(i.id, c));
        p.listening = true;
        return;
      } catch (e) {
        if ((e as { code?: string }).code === 'EADDRINUSE' && attempt < 10) {
          await clock.sleep(100);
          continue;
        }
        parked.delete(i.id);
        throw e;
      }
    }
  }

  function onConnection(id: string, c: HeldConnection): void {
    const p = parked.get(id);
    if (!p) return c.drop();
    p.held.push(c);
    if (p.waking) return;
    p.waking = true;
    log.info({ instance: id, port: p.port }, 'a client connected to a suspended instance; waking it');
    deps.reconciler.resume(id).catch((e) => log.error({ instance: id, err: messageOf(e) }, 'could not wake the suspended instance'));
  }

  async function unpark(id: string, then: (c: HeldConnection) => void): Promise<void> {
    const p = parked.get(id);
    if (!p) return;
    parked.delete(id);
    if (p.listening) await listeners.close(p.port);
    for (const c of p.held.splice(0)) then(c);
  }

  // Every change of a parked instance: ready again (pass the held connections on), or gone.
  const unsubscribe = deps.changes.subscribe((id) => {
    if (!parked.has(id)) return;
    void store.getInstance(id).then(
      (i) => {
        if (!i || i.desired === 'absent' || i.status === 'destroying' || i.status === 'destroyed' || i.status === 'failed') {
          return unpark(id, (c) => c.drop());
        }
        if (i.status === 'ready' && i.port !== null) {
          lastBusy.set(id, clock.now());
          const port = i.port;
          return unpark(id, (c) => c.forward(deps.probeHost, port));
        }
        return undefined;
      },
      (e) => log.warn({ instance: id, err: messageOf(e) }, 'could not read a suspended instance'),
    );
  });

  /** Whether a client is connected; a server that cannot say counts as busy (never suspend on doubt). */
  async function busy(i: InstanceRecord): Promise<boolean> {
    const engine = deps.engines(i.engine);
    try {
      const n = await engine.clientConnections({ host: deps.probeHost, port: i.port!, user: engine.adminUser, password: i.password, database: '' });
      return n > 0;
    } catch (e) {
      log.debug({ instance: i.id, err: messageOf(e) }, 'idle check failed; counting the instance as busy');
      return true;
    }
  }

  function door(port: number): Door {
    let held = false;
    return {
      async close() {
        await listeners.hold(deps.publishIp, port);
        held = true;
      },
      async open() {
        if (!held) return;
        await listeners.unhold(deps.publishIp, port);
        held = false;
      },
    };
  }

  /**
   * The last word before `i`'s server stops: new connections are held off first, then the server
   * counts its client connections over one opened just before. False (it keeps running; the caller
   * lifts the hold) when anyone is there or the server cannot say.
   */
  async function stillIdle(i: InstanceRecord, d: Door): Promise<boolean> {
    const engine = deps.engines(i.engine);
    const counter = await engine
      .clientCounter({ host: deps.probeHost, port: i.port!, user: engine.adminUser, password: i.password, database: '' })
      .catch((e) => void log.debug({ instance: i.id, err: messageOf(e) }, 'last idle check failed; counting the instance as busy'));
    if (!counter) return false;
    try {
      await d.close().catch((e) =>
        // Without the firewall rule (no NET_ADMIN): suspended all the same, a client in that moment may fail.
        log.warn({ instance: i.id, port: i.port, err: messageOf(e) }, 'cannot hold off new connections while the instance suspends'),
      );
      // Connections that got in just before: Docker's proxy dialling the server, the server accepting.
      await clock.sleep(HOLD_SETTLE_MS);
      const n = await counter.count();
      if (n === 0) return true;
      log.debug({ instance: i.id, clients: n }, 'a client connected just before the suspension; keeping the instance running');
    } catch (e) {
      log.debug({ instance: i.id, err: messageOf(e) }, 'last idle check failed; counting the instance as busy');
    } finally {
      await counter.close();
    }
    lastBusy.set(i.id, clock.now());
    return false;
  }

  async function check(i: InstanceRecord): Promise<boolean> {
    // First sight: idle since it became ready, or since this controller started if that came later.
    const since = Math.max(lastBusy.get(i.id) ?? startedAt, i.readyAt?.getTime() ?? 0);
    lastBusy.set(i.id, since);
    if (await busy(i)) {
      lastBusy.set(i.id, clock.now());
      return false;
    }
    if (!isIdleFor(since, clock.now(), deps.idleMs)) return false;
    const d = door(i.port!);
    try {
      const done = await deps.reconciler.suspend(i.id, {
        beforeStop: (s) => stillIdle(s, d),
        onStopped: async (s) => {
          await park(s);
          // The listener has the port: held-off clients may come (a failure here is retried below).
          await d.open().catch(() => undefined);
        },
      });
      if (done) lastBusy.delete(i.id);
      return done;
    } finally {
      // Whatever happened (kept running, or a failed stop restarts the server): nobody stays held off.
      await d.open().catch((e) => log.error({ instance: i.id, port: i.port, err: messageOf(e) }, 'could not lift the hold on new connections'));
    }
  }

  async function pass(): Promise<{ checked: number; suspended: number }> {
    if (deps.idleMs <= 0) return { checked: 0, suspended: 0 };
    const ready = (await store.listLive({ status: ['ready'] })).filter((i) => maySuspend(i, POOL_PREFIX));
    const ids = new Set(ready.map((i) => i.id));
    for (const id of lastBusy.keys()) if (!ids.has(id)) lastBusy.delete(id);
    let suspended = 0;
    const queue = [...ready];
    const worker = async () => {
      for (let i = queue.shift(); i; i = queue.shift()) {
        if (await check(i).catch((e) => (log.warn({ instance: i!.id, err: messageOf(e) }, 'idle suspension failed'), false))) suspended++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(deps.concurrency ?? 8, queue.length) }, worker));
    return { checked: ready.length, suspended };
  }

  // A pass slower than the poll interval (servers that take long to stop) is joined, not doubled.
  let running: Promise<{ checked: number; suspended: number }> | null = null;
  return {
    poll() {
      running ??= pass().finally(() => (running = null));
      return running;
    },
    async restore() {
      // Holds a controller left on our instances' ports when it died in the middle of a suspension.
      const ports = new Set((await store.listLive()).map((i) => i.port));
      const left = await listeners.holds().catch((e) => {
        // Without iptables no hold was ever made; with suspension on, the next suspension says so too.
        log[deps.idleMs > 0 ? 'warn' : 'debug']({ err: messageOf(e) }, 'cannot list held-off ports');
        return [];
      });
      for (const h of left) if (h.address === deps.publishIp && ports.has(h.port)) await listeners.unhold(h.address, h.port);
      let n = 0;
      for (const i of await store.listLive({ status: ['suspended'] })) {
        if (parked.has(i.id) || i.port === null || i.desired !== 'present') continue;
        try {
          await park(i);
          n++;
        } catch (e) {
          // Its port is taken: better running than unreachable.
          log.warn({ instance: i.id, port: i.port, err: messageOf(e) }, 'cannot listen on a suspended instance\'s port; starting it');
          await deps.reconciler.resume(i.id);
        }
      }
      return n;
    },
    async release(id) {
      const p = parked.get(id);
      if (!p?.listening) return;
      p.listening = false;
      await listeners.close(p.port);
    },
    parked: () => [...parked.keys()],
    async close() {
      unsubscribe();
      for (const id of [...parked.keys()]) await unpark(id, (c) => c.drop());
    },
  };
}
