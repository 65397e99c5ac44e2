// The volumes of one node's pool: each a copy-on-write clone of a sealed template version, made with
// the pool's storage driver. Everything it knows is on the pool (a folder per volume holding the
// clone and a small owner-only meta.json), so a restarted plugin knows what it knew.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { AppError, messageOf } from '../domain/errors.js';
import { parseSize } from '../domain/disk.js';
import { assertTemplateName } from '../domain/names.js';
import type { Logger } from '../domain/logger.js';
import type { Storage } from '../storage/storage.js';
import { assertVersionId, assertVolumeName, type PoolLayout } from './layout.js';
import type { SealCheck } from './sealed.js';

export interface VolumeInfo {
  name: string;
  mountpoint: string;
  createdAt: string;
  template: string | null;
  version: string | null;
  /** bytes the clone may write, or null: no limit */
  limitBytes: number | null;
  /** ready: clone and meta present; damaged: one of them is missing (remove it and create again) */
  status: 'ready' | 'damaged';
  /** mounts this plugin process has handed out and not yet been told are over */
  mounts: number;
}

export interface VolumeStore {
  create(name: string, opts: Record<string, unknown> | null | undefined): Promise<void>;
  remove(name: string): Promise<void>;
  mount(name: string, mountId: string): Promise<string>;
  unmount(name: string, mountId: string): Promise<void>;
  path(name: string): Promise<string>;
  get(name: string): Promise<VolumeInfo>;
  list(): Promise<VolumeInfo[]>;
  /** Removes half-built volumes a crash left; run before serving. */
  recover(): Promise<string[]>;
}

interface Meta {
  template: string;
  version: string;
  createdAt: string;
  /** bytes the clone may write (a quota on the pool), absent: no limit */
  limitBytes?: number;
}

const OPTIONS = ['template', 'version', 'size'];

const exists = (p: string) => stat(p).then(() => true, () => false);

export function createVolumeStore(deps: { storage: Storage; sealed: SealCheck; layout: PoolLayout; log: Logger }): VolumeStore {
  const { storage, sealed, layout, log } = deps;
  const mounts = new Map<string, Set<string>>();
  // One operation per volume name at a time: Docker may ask for one volume from two containers at once.
  const queues = new Map<string, Promise<unknown>>();

  function serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = queues.get(name) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    queues.set(name, tail);
    void tail.then(() => {
      if (queues.get(name) === tail) queues.delete(name);
    });
    return next;
  }

  async function readMeta(name: string): Promise<Meta | null> {
    try {
      const m = JSON.parse(await readFile(layout.meta(name), 'utf8')) as Partial<Meta>;
      if (typeof m.template === 'string' && typeof m.version === 'string' && typeof m.createdAt === 'string') return m as Meta;
      return null;
    } catch {
      return null;
    }
  }

  async function info(name: string): Promise<VolumeInfo | null> {
    const dir = layout.volume(name);
    const st = await stat(dir).catch(() => null);
    if (!st?.isDirectory()) return null;
    const meta = await readMeta(name);
    const hasData = await exists(layout.data(name));
    return {
      name,
      mountpoint: layout.data(name),
      createdAt: meta?.createdAt ?? st.mtime.toISOString(),
      template: meta?.template ?? null,
      version: meta?.version ?? null,
      limitBytes: meta?.limitBytes ?? null,
      status: meta && hasData ? 'ready' : 'damaged',
      mounts: mounts.get(name)?.size ?? 0,
    };
  }

  async function mustGet(name: string): Promise<VolumeInfo> {
    const v = await info(assertVolumeName(name));
    if (!v) throw new AppError('not_found', `no myaas volume named ${name} on this node`);
    return v;
  }

  function parseOptions(name: string, opts: Record<string, unknown> | null | undefined): { template: string; version: string; limitBytes: number | null } {
    const o = opts ?? {};
    const unknown = Object.keys(o).filter((k) => !OPTIONS.includes(k));
    if (unknown.length) {
      throw new AppError('bad_request', `unknown option(s) ${unknown.join(', ')} for volume ${name}: the myaas driver takes -o template=<name> -o version=<id> [-o size=<bytes>]`);
    }
    if (o.template === undefined || o.version === undefined) {
      throw new AppError('bad_request', `volume ${name} needs -o template=<name> and -o version=<id>: a myaas volume is a clone of one template version`);
    }
    let limitBytes: number | null = null;
    if (o.size !== undefined) {
      let n = NaN;
      try {
        n = typeof o.size === 'string' ? parseSize(o.size) : NaN;
      } catch {
        // said below
      }
      if (!Number.isSafeInteger(n) || n < 16 * 2 ** 20) {
        throw new AppError('bad_request', `volume ${name}: -o size=${JSON.stringify(o.size)} is not a size of at least 16 MiB (what the clone may write; bytes, or e.g. 512m, 10g)`);
      }
      limitBytes = n;
    }
    return { template: assertTemplateName(o.template), version: assertVersionId(o.version), limitBytes };
  }

  // Quotas are turned on for the pool the first time a volume asks for a limit (simple quotas: a
  // clone is charged only for what it writes). A pool that cannot have them refuses such volumes.
  let limits: Promise<string | null> | null = null;
  const limitsReady = () =>
    (limits ??= storage.enableLimits(layout.dataDir).then(
      (q) => (q.mode === 'none' ? (q.why ?? 'no quota support') : null),
      (e: unknown) => {
        limits = null;
        throw e;
      },
    ));

  return {
    create(name, opts) {
      assertVolumeName(name);
      const want = parseOptions(name, opts);
      return serial(name, async () => {
        const have = await info(name);
        if (have) {
          // Docker asks again for a volume it already knows (e.g. after its own restart): same is fine.
          if (have.status === 'ready' && have.template === want.template && have.version === want.version) return;
          throw new AppError(
            'conflict',
            have.status === 'ready'
              ? `volume ${name} exists as a clone of ${have.template} ${have.version}, not of ${want.template} ${want.version}: remove it first`
              : `volume ${name} exists but is damaged (clone or meta.json missing): remove it (docker volume rm ${name}) and create it again`,
          );
        }
        const src = layout.version(want.template, want.version);
        if (!(await exists(src))) {
          throw new AppError(
            'not_found',
            `template ${want.template} version ${want.version} is not on this node (no ${src}): import it, or ship it here, then create the volume`,
          );
        }
        if (!(await sealed.isSealed(src))) {
          throw new AppError(
            'template_not_ready',
            `template ${want.template} version ${want.version} is not sealed on this node yet (its import or transfer is still running): try again once it is complete`,
          );
        }
        // Built aside and renamed into place, so a crash never leaves a volume that looks whole.
        const building = layout.building(name, randomBytes(4).toString('hex'));
        await mkdir(layout.volumesDir, { recursive: true, mode: 0o700 });
        await mkdir(building, { mode: 0o700 });
        try {
          await storage.clone(src, `${building}/data`);
          if (want.limitBytes !== null) {
            const why = await limitsReady();
            if (why) throw new AppError('storage_unavailable', `volume ${name} asks for a size limit, and this node's pool cannot enforce one: ${why}`);
            // In place before the volume exists: its server never writes a byte unlimited.
            await storage.limit(`${building}/data`, want.limitBytes);
          }
          const meta: Meta = {
            template: want.template, version: want.version, createdAt: new Date().toISOString(),
            ...(want.limitBytes !== null ? { limitBytes: want.limitBytes } : {}),
          };
          await writeFile(`${building}/meta.json`, `${JSON.stringify(meta)}\n`, { mode: 0o600 });
          await rename(building, layout.volume(name));
        } catch (e) {
          await storage.remove(`${building}/data`).catch(() => undefined);
          await rm(building, { recursive: true, force: true }).catch(() => undefined);
          throw e;
        }
        log.info({ volume: name, template: want.template, version: want.version, limitBytes: want.limitBytes }, 'volume created');
      });
    },

    remove(name) {
      assertVolumeName(name);
      return serial(name, async () => {
        if (!(await info(name))) return;
        const inUse = mounts.get(name)?.size ?? 0;
        if (inUse > 0) throw new AppError('conflict', `volume ${name} is mounted by ${inUse} container(s): remove them first`);
        await storage.remove(layout.data(name));
        await rm(layout.volume(name), { recursive: true, force: true });
        mounts.delete(name);
        log.info({ volume: name }, 'volume removed');
      });
    },

    mount(name, mountId) {
      return serial(name, async () => {
        const v = await mustGet(name);
        if (v.status !== 'ready') throw new AppError('conflict', `volume ${name} is damaged (clone or meta.json missing): remove it and create it again`);
        const set = mounts.get(name) ?? new Set<string>();
        set.add(String(mountId));
        mounts.set(name, set);
        return v.mountpoint;
      });
    },

    unmount(name, mountId) {
      return serial(name, async () => {
        assertVolumeName(name);
        const set = mounts.get(name);
        set?.delete(String(mountId));
        if (set && set.size === 0) mounts.delete(name);
      });
    },

    async path(name) {
      return (await mustGet(name)).mountpoint;
    },

    get: mustGet,

    async list() {
      const entries = await readdir(layout.volumesDir).catch(() => [] as string[]);
      const out: VolumeInfo[] = [];
      for (const e of entries.sort()) {
        if (layout.isBuilding(e)) continue;
        try {
          const v = await info(assertVolumeName(e));
          if (v) out.push(v);
        } catch {
          // not ours to report: a stray file someone put in the folder
        }
      }
      return out;
    },

    async recover() {
      const entries = await readdir(layout.volumesDir).catch(() => [] as string[]);
      const removed: string[] = [];
      for (const e of entries.filter(layout.isBuilding)) {
        const dir = `${layout.volumesDir}/${e}`;
        try {
          await storage.remove(`${dir}/data`);
          await rm(dir, { recursive: true, force: true });
          removed.push(e);
        } catch (err) {
          log.warn({ dir, err: messageOf(err) }, 'could not remove a half-built volume');
        }
      }
      return removed;
    },
  };
}
