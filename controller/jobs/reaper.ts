// The periodic and start-up pass: interrupted imports, orphan containers and clones both ways,
// expired instances, unused old template versions. Then every live instance is converged.
import { join } from 'node:path';
import { messageOf } from '../domain/errors.js';
import { homeSelector, LABEL, roleOf } from '../domain/labels.js';
import type { Paths } from '../domain/layout.js';
import { isBehind } from '../domain/lifecycle.js';
import type { InstanceRecord, TemplateVersion } from '../domain/types.js';
import type { Clock, HostFiles, Importer, InstanceChanges, Logger, Reconciler, Runtime, Storage, Store, Telemetry } from '../app/ports.js';

export interface ReaperDeps {
  store: Store;
  runtime: Runtime;
  storage: Storage;
  files: HostFiles;
  importer: Pick<Importer, 'isRunning' | 'start'>;
  reconciler: Pick<Reconciler, 'wake'>;
  changes: InstanceChanges;
  paths: Paths;
  clock: Clock;
  home: string;
  telemetry: Pick<Telemetry, 'swept'>;
  log: Logger;
  /** versions that configuration pins (MYAAS_GITHUB_REPOS `template@version`): kept even while unused */
  pinnedVersions?: ReadonlySet<string>;
}

export interface ReapReport {
  removed: string[];
  expired: number;
  interrupted: number;
}

export interface Reaper {
  /**
   * One pass; concurrent callers share it. It ends by converging every live instance; with
   * `waitForInstances: false` it answers once the orphans are gone and leaves that convergence running
   * (the controller's start-up: the API must not wait for every instance to be provisioned).
   */
  run(opts?: { waitForInstances?: boolean }): Promise<ReapReport>;
}

export function createReaper(deps: ReaperDeps): Reaper {
  const { store, runtime, storage, paths, log, files } = deps;

  async function removeDir(path: string, why: string, report: ReapReport) {
    try {
      await storage.remove(path);
      report.removed.push(path);
      log.warn({ path, why }, 'removed orphan data');
    } catch (e) {
      log.error({ path, err: messageOf(e) }, 'could not remove orphan data');
    }
  }

  async function once(): Promise<{ report: ReapReport; converged: Promise<unknown> }> {
    const report: ReapReport = { removed: [], expired: 0, interrupted: 0 };
    // What exists, listed before what is wanted, so anything created meanwhile is seen as wanted.
    const containers = await runtime.list(homeSelector(deps.home));
    const cloneDirs = await files.list(paths.instancesDir);
    const templateDirs = await files.list(paths.templatesDir);
    const stagingDirs = await files.list(paths.stagingRoot);

    const interrupted = new Set<string>();
    for (const listedImport of await store.listVersions({ status: ['importing'] })) {
      if (deps.importer.isRunning(listedImport.id)) continue;
      // It may have ended since it was listed (ready, or failed by itself): only one still recorded as
      // importing, read after the importer said it does not run it, was cut short.
      const v = await store.getVersion(listedImport.id);
      if (v?.status !== 'importing') continue;
      report.interrupted++;
      interrupted.add(v.template);
      await store.updateVersion(v.id, {
        status: 'failed',
        phase: null,
        error: 'interrupted: the controller stopped during the import; run the import again',
      });
    }

    const live = new Map((await store.listLive()).map((i) => [i.id, i]));
    // An interrupted import is not a broken dump: instances waiting for the template's first version
    // would otherwise fail for good (a failed import is not re-run for an unchanged dump). Run it again.
    for (const template of interrupted) {
      const waiting = [...live.values()].some((i) => i.template === template && i.desired === 'present' && i.versionId === null);
      if (!waiting || (await store.latestReady(template))) continue;
      await deps.importer.start(template).then(
        (r) => log.warn({ template, version: r.version.id }, 'import interrupted by a stop; instances wait for it: importing again'),
        (e) => log.error({ template, err: messageOf(e) }, 'could not start the interrupted import again'),
      );
    }
    for (const c of containers) {
      const role = roleOf(c.labels);
      let orphan = false;
      if (role === 'import') orphan = !deps.importer.isRunning(c.labels[LABEL.version] ?? '');
      else if (role === 'instance') {
        const i = live.get(c.labels[LABEL.instance] ?? '');
        orphan = !i || (i.status === 'ready' && i.containerId !== null && i.containerId !== c.id);
      }
      if (orphan) {
        await runtime.remove(c.id);
        report.removed.push(`container ${c.name}`);
        log.warn({ container: c.name }, 'removed orphan container');
      }
    }
    for (const id of cloneDirs) {
      if (!live.has(id)) await removeDir(paths.instance(id), 'clone without a live instance', report);
    }

    const versions = new Map((await store.listVersions()).map((v) => [v.id, v]));
    const inUse = await store.versionsInUse();
    const keeps = (v: TemplateVersion) =>
      v.status === 'ready' ||
      (v.status === 'importing' && deps.importer.isRunning(v.id)) ||
      (v.status === 'retired' && (inUse.has(v.id) || (deps.pinnedVersions?.has(v.id) ?? false)));
    for (const t of templateDirs) {
      for (const vid of await files.list(join(paths.templatesDir, t))) {
        const listed = versions.get(vid);
        if (listed && keeps(listed)) continue;
        // What was listed may be stale: an import that ended since then made its version ready (and
        // latest). The importer records that before it stops running, so a read after the check above
        // sees it; removing on the stale row would leave latest without its datadir.
        const v = listed ? await store.getVersion(vid) : null;
        if (v && keeps(v)) continue;
        await removeDir(join(paths.templatesDir, t, vid), v ? `version ${v.status} and unused` : 'version unknown to the state DB', report);
      }
    }
    for (const vid of stagingDirs) {
      if (!deps.importer.isRunning(vid)) await files.removeTree(join(paths.stagingRoot, vid));
    }

    for (const i of await store.expired(new Date(deps.clock.now()))) {
      report.expired++;
      log.info({ instance: i.id, name: i.name, expiresAt: i.expiresAt }, 'instance expired; destroying');
      await store.updateInstance(i.id, { desired: 'absent', endReason: 'expired' });
      deps.changes.publish(i.id);
    }
    // One Docker list per pass: an instance ready on its current generation whose container that list
    // shows running needs nothing from the pass (Docker's events report what happens to it meanwhile),
    // so a pass over many quiet instances makes no further Docker calls. The others are woken.
    const listed = new Map(containers.map((c) => [c.id, c]));
    const quiet = (i: InstanceRecord) =>
      i.desired === 'present' && i.status === 'ready' && !isBehind(i) && i.containerId !== null && listed.get(i.containerId)?.running === true;
    const converged = Promise.all((await store.listLive()).filter((i) => !quiet(i)).map((i) => deps.reconciler.wake(i.id)));
    return { report, converged };
  }

  // The pass in progress: its report (orphans removed), and its end (every live instance converged).
  let running: { pass: Promise<{ report: ReapReport }>; whole: Promise<unknown> } | null = null;
  return {
    async run(opts = {}) {
      if (!running) {
        const t0 = deps.clock.now();
        const pass = once();
        const current: { pass: typeof pass; whole: Promise<unknown> } = { pass, whole: Promise.resolve() };
        current.whole = pass
          .then((p) => p.converged, () => undefined)
          .finally(() => {
            if (running === current) running = null;
            deps.telemetry.swept({ durationMs: deps.clock.now() - t0 });
          });
        running = current;
      }
      const { pass, whole } = running;
      const { report } = await pass;
      if (opts.waitForInstances !== false) await whole;
      return report;
    },
  };
}
