// The schema-only variant of a template (`<template>:schema`): cut from a finished version without a
// second load — a copy-on-write clone of it, its tables emptied by a server in the import's image,
// a clean shutdown, sealed. Published as the newest version of `<template>.schema`.
import { join } from 'node:path';
import { AppError } from '../domain/errors.js';
import { importLabels, versionSelector } from '../domain/labels.js';
import type { Paths } from '../domain/layout.js';
import { schemaVariantOf } from '../domain/names.js';
import { tail } from '../domain/templates.js';
import type { TemplateVersion } from '../domain/types.js';
import { newVersionId } from '../lib/ids.js';
import { retry } from '../lib/retry.js';
import type { Clock, Engine, HostFiles, Runtime, Storage, Store } from '../app/ports.js';

const STAGING = '/myaas';

export interface VariantDeps {
  store: Store;
  storage: Storage;
  runtime: Runtime;
  files: HostFiles;
  paths: Paths;
  clock: Clock;
  home: string;
}

/** `inFlight` holds the ids of variants being cut, so that the reaper leaves their container and datadir alone. */
export function createSchemaVariantCutter(deps: VariantDeps, inFlight: Set<string>) {
  const { runtime, clock } = deps;

  async function execOk(engine: Engine, id: string, cmd: string[], what: string): Promise<void> {
    const out = await runtime.exec(id, cmd, { user: engine.user });
    if (out.exitCode !== 0) throw new AppError('import_failed', `${what} failed: ${tail(out.stderr || out.stdout) || `exit code ${out.exitCode}`}`);
  }

  /** Cuts the variant of ready version `full`; returns it ready, or throws (after removing what it made). */
  return async function cut(full: TemplateVersion, engine: Engine): Promise<TemplateVersion> {
    const v: TemplateVersion = {
      ...full,
      id: newVersionId(new Date(clock.now())),
      template: schemaVariantOf(full.template),
      status: 'importing',
      sizeBytes: null,
      error: null,
      phase: 'emptying tables',
      createdAt: new Date(clock.now()),
      readyAt: null,
      schemaSnapshot: full.schemaSnapshot ?? null,
    };
    const dir = deps.paths.version(v.template, v.id);
    const staging = deps.paths.staging(v.id);
    const [uid, gid] = engine.user.split(':').map(Number);
    inFlight.add(v.id);
    await deps.store.insertVersion(v);
    try {
      await deps.files.mkdirp(join(dir, '..'));
      await deps.storage.clone(deps.paths.version(full.template, full.id), dir);
      await deps.files.mkdirp(staging, 0o700);
      await deps.files.chown(staging, { uid, gid });
      for (const [name, content] of Object.entries(engine.stagingFiles(v.adminPassword))) {
        await deps.files.writeOwned(join(staging, name), content, { uid, gid }, 0o600);
      }
      const { id } = await runtime.start({
        name: `myaas-import-${v.id}`, image: v.image, user: engine.user, labels: importLabels(deps.home, v),
        cmd: engine.serverCommand('import', STAGING),
        binds: [{ host: dir, container: engine.dataDir }, { host: staging, container: STAGING }],
        shmBytes: 256 * 1024 * 1024,
      });
      await retry(() => execOk(engine, id, engine.pingCommand(), 'ping'), { clock, what: 'the variant\'s server', deadline: clock.now() + 120_000, delay: 200 });
      await execOk(engine, id, engine.emptyTablesCommand(full.database ?? ''), 'emptying the tables');
      // As after an import: only the network admin account (with the version's secret) stays.
      const finalize = engine.finalizeCommand();
      if (finalize) await execOk(engine, id, finalize, 'removing the local admin account');
      const code = await runtime.stop(id, { signal: engine.stopSignal, timeoutSec: 600 });
      if (code !== 0) throw new AppError('import_failed', `the variant's server did not shut down cleanly (exit ${code})`);
      await runtime.remove(id);
      await deps.files.removeTree(staging);
      await deps.files.sync(dir);
      const sizeBytes = await deps.storage.size(dir);
      await deps.storage.seal(dir);
      const done = { status: 'ready' as const, sizeBytes, readyAt: new Date(clock.now()), phase: null };
      await deps.store.updateVersion(v.id, done);
      for (const old of await deps.store.listVersions({ template: v.template, status: ['ready'] })) {
        if (old.id !== v.id) await deps.store.updateVersion(old.id, { status: 'retired' });
      }
      return { ...v, ...done };
    } catch (e) {
      await runtime.removeAll(versionSelector(deps.home, v.id)).catch(() => 0);
      await deps.storage.remove(dir).catch(() => undefined);
      await deps.files.removeTree(staging).catch(() => undefined);
      await deps.store.updateVersion(v.id, { status: 'failed', error: (e as Error).message, phase: null });
      throw e;
    } finally {
      inFlight.delete(v.id);
    }
  };
}
