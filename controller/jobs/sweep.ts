// The periodic and start-up pass: interrupted imports, orphan containers and clones both ways,
// expired instances, unused old template versions. Then every live instance is converged.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '../domain/errors.js';
import type { Logger } from '../domain/ports.js';
import type { Store } from '../db/store.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Storage } from '../storage/storage.js';
import type { Importer } from './importer.js';
import type { Paths } from './paths.js';
import type { Reconciler } from './reconciler.js';

export interface SweepDeps {
  store: Store;
  runtime: Runtime;
  storage: Storage;
  importer: Pick<Importer, 'isRunning'>;
  reconciler: Pick<Reconciler, 'wake'>;
  paths: Paths;
  home: string;
  log: Logger;
}

const list = async (dir: string) => readdir(dir).catch(() => [] as string[]);

export function createSweep(deps: SweepDeps) {
  const { store, runtime, storage, paths, log } = deps;
  let running: Promise<SweepReport> | null = null;

  async function removeDir(path: string, why: string, report: SweepReport) {
    try {
      await storage.remove(path);
      report.removed.push(path);
      log.warn({ path, why }, 'removed orphan data');
    } catch (e) {
      log.error({ path, err: messageOf(e) }, 'could not remove orphan data');
    }
  }

  async function once(): Promise<SweepReport> {
    const report: SweepReport = { removed: [], expired: 0, interrupted: 0 };
    // What exists, listed before what is wanted, so anything created meanwhile is seen as wanted.
    const containers = await runtime.list({ 'myaas.home': deps.home });
    const cloneDirs = await list(paths.instancesDir);
    const templateDirs = await list(paths.templatesDir);
    const stagingDirs = await list(paths.stagingRoot);

    for (const v of await store.listVersions({ status: ['importing'] })) {
      if (deps.importer.isRunning(v.id)) continue;
      report.interrupted++;
      await store.updateVersion(v.id, {
        status: 'failed',
        phase: null,
        error: 'interrupted: the controller stopped during the import; run the import again',
      });
    }

    const live = new Map((await store.listLive()).map((i) => [i.id, i]));
    for (const c of containers) {
      const role = c.labels['myaas.role'];
      if (role === 'import') {
        if (!deps.importer.isRunning(c.labels['myaas.version'] ?? '')) {
          await runtime.remove(c.id);
          report.removed.push(`container ${c.name}`);
        }
      } else if (role === 'instance') {
        const i = live.get(c.labels['myaas.instance'] ?? '');
        const stale = i && i.status === 'ready' && i.containerId && i.containerId !== c.id;
        if (!i || stale) {
          await runtime.remove(c.id);
          report.removed.push(`container ${c.name}`);
          log.warn({ container: c.name }, 'removed orphan container');
        }
      }
    }
    for (const id of cloneDirs) {
      if (!live.has(id)) await removeDir(paths.instance(id), 'clone without a live instance', report);
    }

    const versions = new Map((await store.listVersions()).map((v) => [v.id, v]));
    const inUse = await store.versionsInUse();
    for (const t of templateDirs) {
      for (const vid of await list(join(paths.templatesDir, t))) {
        const v = versions.get(vid);
        const keep = v && (v.status === 'ready' || (v.status === 'importing' && deps.importer.isRunning(vid)) || (v.status === 'retired' && inUse.has(vid)));
        if (!keep) await removeDir(join(paths.templatesDir, t, vid), v ? `version ${v.status} and unused` : 'version unknown to the state DB', report);
      }
    }
    for (const vid of stagingDirs) {
      if (!deps.importer.isRunning(vid)) await rm(join(paths.stagingRoot, vid), { recursive: true, force: true });
    }

    const now = new Date();
    for (const i of await store.expired(now)) {
      report.expired++;
      log.info({ instance: i.id, name: i.name, expiresAt: i.expiresAt }, 'instance expired; destroying');
      await store.updateInstance(i.id, { desired: 'absent' });
    }
    await Promise.all((await store.listLive()).map((i) => deps.reconciler.wake(i.id)));
    return report;
  }

  return {
    /** One pass; concurrent callers share it. */
    run(): Promise<SweepReport> {
      if (!running) running = once().finally(() => (running = null));
      return running;
    },
  };
}

export interface SweepReport {
  removed: string[];
  expired: number;
  interrupted: number;
}
