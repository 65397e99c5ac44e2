// MYAAS_WARM_POOL=<n>: keeps n started instances of each template's latest version, owned by the pool.
// A create claims one: new owner and name, a fresh password rotated in over the network, a readiness
// probe with it. Claims only ever take clones of the current latest version.
import { messageOf } from '../domain/errors.js';
import type { Logger } from '../domain/ports.js';
import type { EngineName, InstanceRecord } from '../domain/types.js';
import type { Store } from '../db/store.js';
import type { AdminSession, Engine } from '../engines/engine.js';
import { newInstanceId, newPassword } from './ids.js';
import type { Reconciler } from './reconciler.js';

export const POOL_PREFIX = 'pool:';
export const isPoolOwner = (owner: string) => owner.startsWith(POOL_PREFIX);

export interface WarmPoolDeps {
  store: Store;
  reconciler: Pick<Reconciler, 'wake' | 'exclusive' | 'notify' | 'onChange'>;
  engines: (name: EngineName) => Engine;
  size: number;
  probeHost: string;
  readyTimeoutMs: number;
  log: Logger;
}

export function createWarmPool(deps: WarmPoolDeps) {
  const { store, reconciler, log } = deps;
  let refilling: Promise<void> | null = null;
  // An open admin connection per ready warm instance: a claim then needs no login to set the password.
  const sessions = new Map<string, Promise<AdminSession>>();
  const dropSession = (id: string) => {
    const s = sessions.get(id);
    sessions.delete(id);
    void s?.then((x) => x.close()).catch(() => {});
  };
  const stopWatching = deps.size > 0
    ? reconciler.onChange((id) => {
        void (async () => {
          const i = await store.getInstance(id);
          if (!i || !isPoolOwner(i.owner) || i.status !== 'ready' || i.desired !== 'present') return dropSession(id);
          if (sessions.has(id) || !i.port || !i.versionId) return;
          const v = await store.getVersion(i.versionId);
          const engine = deps.engines(i.engine);
          const conn = { host: deps.probeHost, port: i.port, user: engine.adminUser, password: i.password, database: v?.database ?? '' };
          const session = engine.adminSession(conn, Date.now() + 5000);
          session.catch(() => sessions.delete(id));
          sessions.set(id, session);
        })().catch((e) => log.debug({ instance: id, err: messageOf(e) }, 'no admin session for warm instance'));
      })
    : () => {};

  async function refillOnce(): Promise<void> {
    const warm = await store.listLive(POOL_PREFIX);
    const templates = new Set((await store.listVersions({ status: ['ready'] })).map((v) => v.template));
    for (const template of templates) {
      const latest = await store.latestReady(template);
      if (!latest) continue;
      let keep = 0;
      for (const w of warm.filter((x) => x.template === template && x.desired === 'present')) {
        const stale = (w.versionId !== null && w.versionId !== latest.id) || (w.pinnedVersionId !== null && w.pinnedVersionId !== latest.id);
        if (stale || w.status === 'failed') {
          await store.updateInstance(w.id, { desired: 'absent' });
          void reconciler.wake(w.id);
        } else keep++;
      }
      for (; keep < deps.size; keep++) {
        const id = newInstanceId();
        await store.getOrCreateInstance({
          id, name: `warm-${id}`, owner: `${POOL_PREFIX}${id}`, template, engine: latest.engine, versionId: null,
          pinnedVersionId: latest.id, status: 'provisioning', desired: 'present', port: null, password: newPassword(),
          containerId: null, error: null, generation: 0, appliedGeneration: 0, expiresAt: null, createdAt: new Date(),
          readyAt: null, destroyedAt: null,
        });
        void reconciler.wake(id);
      }
    }
  }

  return {
    enabled: deps.size > 0,
    close(): void {
      stopWatching();
      for (const id of [...sessions.keys()]) dropSession(id);
    },
    /** Tops every template's pool up to size and retires warm clones of older versions. */
    refill(): Promise<void> {
      if (deps.size <= 0) return Promise.resolve();
      if (!refilling) {
        refilling = refillOnce()
          .catch((e) => log.warn({ err: messageOf(e) }, 'warm pool refill failed; the next sweep retries'))
          .finally(() => (refilling = null));
      }
      return refilling;
    },

    /** A ready instance for (owner, template) taken from the pool, or null when none is warm. */
    async claim(req: { owner: string; template: string; name: string; expiresAt: Date | null }): Promise<InstanceRecord | null> {
      if (deps.size <= 0) return null;
      const latest = await store.latestReady(req.template);
      if (!latest) return null;
      const candidates = (await store.listLive(POOL_PREFIX)).filter(
        (w) => w.template === req.template && w.status === 'ready' && w.versionId === latest.id && w.desired === 'present',
      );
      for (const w of candidates) {
        const password = newPassword();
        const claimed = await reconciler.exclusive(w.id, async () => {
          // generation moves on, so if we crash before `ready` the reconciler rebuilds it fresh.
          const c = await store.claimWarm(w.id, w.owner, {
            owner: req.owner, name: req.name, password, expiresAt: req.expiresAt, createdAt: new Date(),
            status: 'provisioning', generation: w.generation + 1, pinnedVersionId: null,
          });
          if (!c) return null;
          const engine = deps.engines(c.engine);
          const deadline = Date.now() + deps.readyTimeoutMs;
          const conn = { host: deps.probeHost, port: c.port!, user: engine.adminUser, password: w.password, database: latest.database ?? '' };
          try {
            const session = await sessions.get(c.id)?.catch(() => null);
            if (session) {
              await session.setPassword(password);
              dropSession(c.id);
            } else await engine.rotatePassword(conn, password, deadline);
            await engine.probe({ ...conn, password }, deadline);
          } catch (e) {
            log.warn({ instance: c.id, err: messageOf(e) }, 'warm instance did not take its new password; rebuilding it');
            return c; // status provisioning with a new generation: the reconciler rebuilds it
          }
          await store.updateInstance(c.id, { status: 'ready', appliedGeneration: c.generation, readyAt: new Date(), error: null });
          return { ...c, status: 'ready' as const, appliedGeneration: c.generation };
        });
        if (!claimed) continue;
        reconciler.notify(claimed.id);
        if (claimed.status !== 'ready') void reconciler.wake(claimed.id);
        log.info({ instance: claimed.id, owner: req.owner, template: req.template }, 'handed out a warm instance');
        return claimed;
      }
      return null;
    },
  };
}

export type WarmPool = ReturnType<typeof createWarmPool>;
