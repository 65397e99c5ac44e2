// MYAAS_WARM_POOL=<n>: keeps n started instances of each template's latest version, owned by the pool.
// A create claims one in a single state-DB write (new owner, name, password, a new generation); the
// reconciler then hands it over: the new password over an admin session kept open while the instance
// was warm, and a probe with it. If the controller stops in between, the handover is lost with this
// process and the new generation makes the reconciler rebuild the instance from a fresh clone.
import { messageOf } from '../domain/errors.js';
import { HOLDS_CAPACITY } from '../domain/lifecycle.js';
import { formatOwner, POOL_PREFIX, poolOwner } from '../domain/owner.js';
import { newInstanceRecord, type InstanceRecord } from '../domain/types.js';
import { newInstanceId, newPassword } from '../lib/ids.js';
import type { AdminSession, Clock, Engines, HandoverBook, InstanceChanges, Logger, Reconciler, Store, WarmPool } from '../app/ports.js';

export interface WarmPoolDeps {
  store: Store;
  reconciler: Pick<Reconciler, 'wake'>;
  handovers: HandoverBook;
  changes: InstanceChanges;
  engines: Engines;
  clock: Clock;
  size: number;
  /** MYAAS_MAX_INSTANCES: warm instances hold resources too, so the pool never fills past it */
  maxInstances: number;
  probeHost: string;
  log: Logger;
}

export function createWarmPool(deps: WarmPoolDeps): WarmPool {
  const { store, reconciler, log, clock } = deps;
  let refilling: Promise<void> | null = null;
  // An open admin connection per ready warm instance: a claim then needs no login to set the password.
  const sessions = new Map<string, Promise<AdminSession>>();
  const { handovers } = deps;
  const dropSession = (id: string) => {
    const s = sessions.get(id);
    sessions.delete(id);
    void s?.then((x) => x.close()).catch(() => {});
  };

  async function watch(id: string): Promise<void> {
    const i = await store.getInstance(id);
    const warm = i && i.owner.startsWith(POOL_PREFIX) && i.status === 'ready' && i.desired === 'present';
    if (!warm) {
      if (!handovers.has(id)) dropSession(id);
      return;
    }
    if (sessions.has(id) || !i.port || !i.versionId) return;
    const v = await store.getVersion(i.versionId);
    const engine = deps.engines(i.engine);
    const conn = { host: i.host ?? deps.probeHost, port: i.port, user: engine.adminUser, password: i.password, database: v?.database ?? '' };
    const session = engine.adminSession(conn, clock.now() + 5000);
    session.catch(() => sessions.delete(id));
    sessions.set(id, session);
  }
  const stopWatching = deps.size > 0
    ? deps.changes.subscribe((id) => void watch(id).catch((e) => log.debug({ instance: id, err: messageOf(e) }, 'no admin session for warm instance')))
    : () => {};

  async function refillOnce(): Promise<void> {
    const warm = await store.listLive({ ownerPrefix: POOL_PREFIX });
    const templates = new Set((await store.listVersions({ status: ['ready'] })).map((v) => v.template));
    for (const template of templates) {
      const latest = await store.latestReady(template);
      if (!latest) continue;
      let keep = 0;
      for (const w of warm.filter((x) => x.template === template && x.desired === 'present')) {
        const stale = (w.versionId !== null && w.versionId !== latest.id) || (w.pinnedVersionId !== null && w.pinnedVersionId !== latest.id);
        if (stale || w.status === 'failed') {
          await store.updateInstance(w.id, { desired: 'absent' });
          deps.changes.publish(w.id);
          void reconciler.wake(w.id);
        } else keep++;
      }
      for (; keep < deps.size; keep++) {
        if ((await store.countLive({ status: [...HOLDS_CAPACITY, 'queued'] })) >= deps.maxInstances) return;
        const id = newInstanceId();
        await store.getOrCreateInstance(newInstanceRecord({
          id, name: `warm-${id}`, owner: formatOwner(poolOwner(id)), template, engine: latest.engine, pinnedVersionId: latest.id,
          status: 'provisioning', password: newPassword(), createdAt: new Date(clock.now()),
        }));
        void reconciler.wake(id);
      }
    }
  }

  return {
    enabled: deps.size > 0,
    close(): void {
      stopWatching();
      for (const id of [...sessions.keys()]) dropSession(id);
      handovers.clear();
    },
    refill(): Promise<void> {
      if (deps.size <= 0) return Promise.resolve();
      refilling ??= refillOnce()
        .catch((e) => log.warn({ err: messageOf(e) }, 'warm pool refill failed; the next sweep retries'))
        .finally(() => (refilling = null));
      return refilling;
    },

    async claim(req): Promise<InstanceRecord | null> {
      if (deps.size <= 0) return null;
      const latest = await store.latestReady(req.template);
      if (!latest) return null;
      const candidates = (await store.listLive({ ownerPrefix: POOL_PREFIX, template: req.template, status: ['ready'] })).filter(
        (w) => w.versionId === latest.id && w.desired === 'present',
      );
      for (const w of candidates) {
        if (handovers.has(w.id)) continue; // another create is claiming it right now
        // Recorded before the claim's write, so the reconciler woken by anyone after it finds it.
        handovers.put(w.id, { previousPassword: w.password, session: sessions.get(w.id) ?? null });
        sessions.delete(w.id);
        const c = await store.claimWarm(w.id, w.owner, {
          owner: formatOwner(req.owner), name: req.name, password: newPassword(), expiresAt: req.expiresAt,
          createdAt: new Date(clock.now()), status: 'provisioning', generation: w.generation + 1, pinnedVersionId: null,
        });
        if (!c) {
          void handovers.take(w.id)?.session?.then((s) => s.close()).catch(() => {});
          continue;
        }
        deps.changes.publish(c.id);
        void reconciler.wake(c.id);
        log.info({ instance: c.id, owner: c.owner, template: req.template }, 'claimed a warm instance');
        return c;
      }
      return null;
    },
  };
}
