// Turns a dump into a new template version: load (import-load.ts), seal, publish as latest. Only a
// complete import becomes latest; a failed one is recorded with why and its leftovers removed.
import { AppError, messageOf } from '../domain/errors.js';
import { versionSelector } from '../domain/labels.js';
import type { Paths } from '../domain/layout.js';
import { assertTemplateName, schemaVariantOf } from '../domain/names.js';
import type { EngineName, TemplateVersion } from '../domain/types.js';
import { newPassword, newVersionId } from '../lib/ids.js';
import { formatMs } from '../lib/retry.js';
import type { Clock, DiskGuard, DumpSource, Engines, HostFiles, ImportProgress, Importer, Logger, Runtime, Storage, Store, Telemetry } from '../app/ports.js';
import type { Dump } from '../domain/dumps.js';
import { createLoader } from './import-load.js';
import { createSchemaVariantCutter } from './import-variant.js';

export interface ImporterDeps {
  store: Store;
  storage: Storage;
  runtime: Runtime;
  files: HostFiles;
  dumps: DumpSource;
  engines: Engines;
  paths: Paths;
  clock: Clock;
  images: Record<EngineName, string>;
  jobs: number;
  /** an import running longer is stopped (MYAAS_IMPORT_TIMEOUT) */
  timeoutMs: number;
  /** also cut `<template>:schema` (same schema, no rows) from every finished import */
  schemaVariants: boolean;
  /** label value that marks this controller's containers */
  home: string;
  telemetry: Pick<Telemetry, 'imported'>;
  log: Logger;
  /** what each import container may use */
  limits: { memoryBytes: number; cpus: number; pidsLimit: number };
  /** refuses imports while the pool is below its reserve */
  disk: Pick<DiskGuard, 'assertRoom'>;
}

export function createImporter(deps: ImporterDeps): Importer {
  const { store, storage, runtime, paths, log, clock } = deps;
  const running = new Map<string, { version: TemplateVersion; done: Promise<TemplateVersion>; stop: AbortController }>();
  const listeners = new Set<ImportProgress>();
  const finished = new Set<(template: string) => void>();
  const load = createLoader(deps);
  const cutting = new Set<string>();
  const variantCuts = new Map<string, Promise<void>>();
  const cutter = createSchemaVariantCutter(deps, cutting);

  /** The schema-only variant, after the version it comes from is latest: its failure does not undo that. */
  async function cutVariant(full: TemplateVersion, vlog: Logger): Promise<void> {
    const t0 = clock.now();
    try {
      const variant = await cutter(full, deps.engines(full.engine));
      vlog.info({ version: variant.id, elapsedMs: clock.now() - t0 }, `import: ${variant.template} ready (schema only)`);
    } catch (e) {
      vlog.error({ err: messageOf(e) }, 'import: the schema-only variant failed; the full version stays latest');
    }
    notifyFinished(schemaVariantOf(full.template), vlog);
  }

  function notifyFinished(template: string, vlog: Logger): void {
    for (const l of finished) {
      try {
        l(template);
      } catch (e) {
        vlog.warn({ err: messageOf(e) }, 'import listener failed');
      }
    }
  }

  async function run(v: TemplateVersion, dump: Dump, stop: AbortController): Promise<TemplateVersion> {
    const t0 = clock.now();
    // A stop (cancel or timeout) removes the import's containers: whatever step is running then fails,
    // and the failure below is recorded with the stop's reason instead of that step's.
    const timer = setTimeout(() => stop.abort(new Error(`timed out after ${formatMs(deps.timeoutMs)} (MYAAS_IMPORT_TIMEOUT); the dump may hang (e.g. a lock wait or a sleep) or need a longer limit`)), deps.timeoutMs);
    timer.unref?.();
    const onStop = () => void runtime.removeAll(versionSelector(deps.home, v.id)).catch(() => 0);
    stop.signal.addEventListener('abort', onStop, { once: true });
    const vlog = log.child({ template: v.template, version: v.id });
    const tell = (p: string) => {
      for (const l of listeners) l(v.id, p, clock.now() - t0);
    };
    const phase = async (p: string) => {
      if (stop.signal.aborted) throw stop.signal.reason;
      vlog.info({ phase: p, elapsedMs: clock.now() - t0 }, `import: ${p}`);
      tell(p);
      await store.updateVersion(v.id, { phase: p });
    };
    const dir = paths.version(v.template, v.id);
    let ready: TemplateVersion;
    try {
      const database = await load(v, dump, deps.engines(dump.engine), phase);
      await deps.files.removeTree(paths.staging(v.id));
      await phase('sealing');
      stop.signal.removeEventListener('abort', onStop);
      await deps.files.sync(dir);
      const sizeBytes = await storage.size(dir);
      await storage.seal(dir);
      const done = { status: 'ready' as const, database, sizeBytes, readyAt: new Date(clock.now()), phase: null };
      await store.updateVersion(v.id, done);
      for (const old of await store.listVersions({ template: v.template, status: ['ready'] })) {
        if (old.id !== v.id) await store.updateVersion(old.id, { status: 'retired' });
      }
      vlog.info({ elapsedMs: clock.now() - t0, sizeBytes, database }, 'import: ready, now latest');
      deps.telemetry.imported({ template: v.template, engine: v.engine, outcome: 'ready', durationMs: clock.now() - t0 });
      tell('ready');
      ready = { ...v, ...done };
    } catch (e) {
      const error = stop.signal.aborted ? messageOf(stop.signal.reason) : messageOf(e);
      vlog.error({ err: error, elapsedMs: clock.now() - t0 }, 'import failed; latest version unchanged');
      await runtime.removeAll(versionSelector(deps.home, v.id)).catch(() => 0);
      await storage.remove(dir).catch((err) => vlog.warn({ err: messageOf(err) }, 'could not remove failed datadir'));
      await deps.files.removeTree(paths.staging(v.id)).catch(() => {});
      await store.updateVersion(v.id, { status: 'failed', error, phase: null });
      deps.telemetry.imported({ template: v.template, engine: v.engine, outcome: 'failed', durationMs: clock.now() - t0 });
      tell('failed');
      return { ...v, status: 'failed', error };
    } finally {
      clearTimeout(timer);
      // The template is free for its next import (and its waiting instances are woken) as soon as this
      // version is latest: the schema-only variant below is cut on the side. Before, a new import asked
      // for meanwhile was answered with this finished one.
      if (running.get(v.template)?.version.id === v.id) running.delete(v.template);
      notifyFinished(v.template, vlog);
    }
    if (deps.schemaVariants) await cutVariantInOrder(ready, vlog);
    return ready;
  }

  /** Variants of one template are cut one after the other, so that the newest version's is published last. */
  async function cutVariantInOrder(full: TemplateVersion, vlog: Logger): Promise<void> {
    const next = (variantCuts.get(full.template) ?? Promise.resolve()).then(() => cutVariant(full, vlog));
    variantCuts.set(full.template, next);
    try {
      await next;
    } finally {
      if (variantCuts.get(full.template) === next) variantCuts.delete(full.template);
    }
  }

  return {
    async start(template) {
      assertTemplateName(template);
      const current = running.get(template);
      if (current) return current;
      const dump = await deps.dumps.find(template);
      await deps.disk.assertRoom(`an import of ${template}`);
      const image = deps.images[dump.engine];
      await runtime.ping();
      if (!(await runtime.imageExists(image))) {
        throw new AppError('bad_request', `image ${image} is not on this Docker engine: build the local images with \`sudo scripts/setup-host.sh\` or set MYAAS_${dump.engine.toUpperCase()}_IMAGE`);
      }
      const version: TemplateVersion = {
        id: newVersionId(new Date(clock.now())),
        template,
        engine: dump.engine,
        status: 'importing',
        image,
        database: null,
        adminPassword: newPassword(),
        sizeBytes: null,
        error: null,
        createdAt: new Date(clock.now()),
        readyAt: null,
        dumpFingerprint: dump.fingerprint,
      };
      await store.insertVersion({ ...version, phase: 'queued' });
      const stop = new AbortController();
      const entry = { version, done: run(version, dump, stop), stop };
      running.set(template, entry);
      return entry;
    },
    async cancel(template, why = 'cancelled by request (myaas import --cancel)') {
      const r = running.get(template);
      if (!r) return null;
      r.stop.abort(new Error(why));
      return r.done;
    },
    isRunning: (versionId) => cutting.has(versionId) || [...running.values()].some((r) => r.version.id === versionId),
    runningTemplates: () => [...running.keys()],
    onProgress(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    onFinished(l) {
      finished.add(l);
      return () => finished.delete(l);
    },
    async drain() {
      await Promise.allSettled([...running.values()].map((r) => r.done));
      await Promise.allSettled([...variantCuts.values()]);
    },
  };
}
