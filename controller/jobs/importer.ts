// Turns a dump into a new template version: fresh datadir, load inside the engine's image, clean
// shutdown, seal. Only a complete import becomes latest; a failed one is recorded and removed.
import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AppError, messageOf } from '../domain/errors.js';
import { assertTemplateName } from '../domain/names.js';
import type { CommandRunner, Logger } from '../domain/ports.js';
import { planDatabase, tail } from '../domain/templates.js';
import type { EngineName, TemplateVersion } from '../domain/types.js';
import type { Store } from '../db/store.js';
import type { Engine } from '../engines/engine.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Storage } from '../storage/storage.js';
import { retryUntil } from '../runtime/wait.js';
import { findDump, gunzipTo, type Dump } from './dumps.js';
import { newPassword, newVersionId } from './ids.js';
import type { Paths } from './paths.js';

const STAGING = '/myaas';
const DUMPS = '/dumps';

export interface ImporterDeps {
  store: Store;
  storage: Storage;
  runtime: Runtime;
  runner: CommandRunner;
  engines: (name: EngineName) => Engine;
  paths: Paths;
  dumpsDir: string;
  images: Record<EngineName, string>;
  jobs: number;
  /** label value that marks this controller's containers */
  home: string;
  log: Logger;
  /** called when a version of `template` became ready (or failed) */
  onFinished: (template: string) => void;
}

export type Progress = (phase: string, elapsedMs: number) => void;

export function createImporter(deps: ImporterDeps) {
  const { store, storage, runtime, paths, log } = deps;
  const running = new Map<string, { version: TemplateVersion; done: Promise<TemplateVersion> }>();
  const listeners = new Set<(versionId: string, phase: string, ms: number) => void>();

  async function execOk(engine: Engine, id: string, cmd: string[], what: string): Promise<string> {
    const out = await runtime.exec(id, cmd, { user: engine.user });
    if (out.exitCode !== 0) {
      const why = tail(out.stderr || out.stdout) || `exit code ${out.exitCode}`;
      if (/No space left|ENOSPC|disk full|Errcode: 28/i.test(why)) {
        throw new AppError('insufficient_storage', `${what} failed: the storage pool is full (${why}); free space or grow the pool`);
      }
      throw new AppError('import_failed', `${what} failed: ${why}`);
    }
    return out.stdout;
  }

  /** Runs a one-shot container to completion; returns its output, throws with the log on failure. */
  async function runOnce(spec: Parameters<Runtime['start']>[0], what: string): Promise<void> {
    const { id } = await runtime.start(spec);
    try {
      const info = await retryUntil(
        async () => {
          const i = await runtime.inspect(id);
          if (!i || i.running) throw new Error('still running');
          return i;
        },
        { deadline: Date.now() + 300_000, intervalMs: 100, what },
      );
      if (info.exitCode !== 0) throw new AppError('import_failed', `${what} failed (exit ${info.exitCode}): ${tail(await runtime.logs(id, 20))}`);
    } finally {
      await runtime.remove(id);
    }
  }

  async function load(v: TemplateVersion, dump: Dump, engine: Engine, phase: (p: string) => Promise<void>): Promise<string> {
    const dir = paths.version(v.template, v.id);
    const staging = paths.staging(v.id);
    const base = {
      image: v.image,
      user: engine.user,
      labels: { 'myaas.home': deps.home, 'myaas.role': 'import', 'myaas.version': v.id, 'myaas.template': v.template },
      binds: [
        { host: dir, container: engine.dataDir },
        { host: staging, container: STAGING },
        { host: join(deps.dumpsDir, dump.engine), container: DUMPS, readOnly: true },
      ],
      shmBytes: 256 * 1024 * 1024,
    };
    await phase('preparing datadir');
    await mkdir(dirname(dir), { recursive: true });
    await storage.createVolume(dir);
    const [uid, gid] = engine.user.split(':').map(Number);
    await chown(dir, uid, gid);
    await mkdir(staging, { recursive: true, mode: 0o700 });
    await chown(staging, uid, gid);
    for (const [name, content] of Object.entries(engine.stagingFiles(v.adminPassword))) {
      await writeFile(join(staging, name), content, { mode: 0o600 });
      await chown(join(staging, name), uid, gid);
    }
    let file = `${DUMPS}/${dump.file}`;
    if (dump.format === 'sql.gz') {
      await phase('decompressing dump');
      await gunzipTo(join(deps.dumpsDir, dump.engine, dump.file), join(staging, 'dump.sql'));
      file = `${STAGING}/dump.sql`;
    }

    await phase('initialising datadir');
    await runOnce({ ...base, name: `myaas-init-${v.id}`, cmd: engine.initCommand(STAGING) }, 'initialising the datadir');
    for (const [name, content] of Object.entries(engine.configFiles())) {
      await writeFile(join(dir, name), content, { mode: 0o600 });
      await chown(join(dir, name), uid, gid);
    }

    await phase('starting import server');
    const { id } = await runtime.start({ ...base, name: `myaas-import-${v.id}`, cmd: engine.serverCommand('import', STAGING) });
    await retryUntil(
      async () => {
        const i = await runtime.inspect(id);
        if (!i?.running) throw new AppError('import_failed', `the import server exited: ${tail(await runtime.logs(id, 20))}`);
        await execOk(engine, id, engine.pingCommand(), 'ping');
      },
      { deadline: Date.now() + 120_000, intervalMs: 200, what: 'the import server', isRetryable: (e) => !(e instanceof AppError && /exited/.test(e.message)) },
    );

    const loadDb = engine.loadDatabase(v.template);
    await execOk(engine, id, engine.createDatabaseCommand(loadDb), `creating database ${loadDb}`);
    await phase(`loading ${dump.file}`);
    const restore = dump.format === 'dump' ? engine.restoreArchiveCommand(file, loadDb, deps.jobs) : null;
    await execOk(engine, id, restore ?? engine.loadSqlCommand(file, loadDb), `loading ${dump.file}`);

    const names = (await execOk(engine, id, engine.listDatabasesCommand(), 'listing databases')).split('\n').map((s) => s.trim()).filter(Boolean);
    const dbs = [];
    for (const name of names) {
      dbs.push({ name, tables: Number((await execOk(engine, id, engine.countTablesCommand(name), `inspecting ${name}`)).trim()) || 0 });
    }
    const plan = planDatabase(loadDb, v.template, dbs, engine.renameDatabaseCommand('a', 'b') !== null);
    for (const d of plan.drop) await execOk(engine, id, engine.dropDatabaseCommand(d), `dropping empty ${d}`);
    if (plan.rename) await execOk(engine, id, engine.renameDatabaseCommand(plan.rename.from, plan.rename.to)!, 'renaming database');
    if (dump.afterFile) {
      await phase(`running ${dump.afterFile}`);
      await execOk(engine, id, engine.loadSqlCommand(`${DUMPS}/${dump.afterFile}`, plan.database), `running ${dump.afterFile}`);
    }

    const finalize = engine.finalizeCommand();
    if (finalize) await execOk(engine, id, finalize, 'finishing the datadir');
    await phase('shutting down cleanly');
    const code = await runtime.stop(id, { signal: engine.stopSignal, timeoutSec: 600 });
    if (code !== 0) throw new AppError('import_failed', `the import server did not shut down cleanly (exit ${code}): ${tail(await runtime.logs(id, 20))}`);
    await runtime.remove(id);
    return plan.database;
  }

  async function run(v: TemplateVersion, dump: Dump, engine: Engine): Promise<TemplateVersion> {
    const t0 = Date.now();
    const vlog = log.child({ template: v.template, version: v.id });
    const phase = async (p: string) => {
      vlog.info({ phase: p, elapsedMs: Date.now() - t0 }, `import: ${p}`);
      for (const l of listeners) l(v.id, p, Date.now() - t0);
      await store.updateVersion(v.id, { phase: p });
    };
    const dir = paths.version(v.template, v.id);
    try {
      const database = await load(v, dump, engine, phase);
      await rm(paths.staging(v.id), { recursive: true, force: true });
      await phase('sealing');
      await deps.runner.run('sync', ['-f', dir]);
      const sizeBytes = await storage.size(dir);
      await storage.seal(dir);
      const done = { status: 'ready' as const, database, sizeBytes, readyAt: new Date(), phase: null };
      await store.updateVersion(v.id, done);
      for (const old of await store.listVersions({ template: v.template, status: ['ready'] })) {
        if (old.id !== v.id) await store.updateVersion(old.id, { status: 'retired' });
      }
      vlog.info({ elapsedMs: Date.now() - t0, sizeBytes, database }, 'import: ready, now latest');
      for (const l of listeners) l(v.id, 'ready', Date.now() - t0);
      return { ...v, ...done };
    } catch (e) {
      const error = messageOf(e);
      vlog.error({ err: error, elapsedMs: Date.now() - t0 }, 'import failed; latest version unchanged');
      for (const c of await runtime.list({ 'myaas.home': deps.home, 'myaas.version': v.id }).catch(() => [])) await runtime.remove(c.id).catch(() => {});
      await storage.remove(dir).catch((err) => vlog.warn({ err: messageOf(err) }, 'could not remove failed datadir'));
      await rm(paths.staging(v.id), { recursive: true, force: true }).catch(() => {});
      await store.updateVersion(v.id, { status: 'failed', error, phase: null });
      for (const l of listeners) l(v.id, 'failed', Date.now() - t0);
      return { ...v, status: 'failed', error };
    } finally {
      running.delete(v.template);
      deps.onFinished(v.template);
    }
  }

  return {
    /** Starts an import of `template` (or returns the one already running); resolves once it is recorded. */
    async start(template: string): Promise<{ version: TemplateVersion; done: Promise<TemplateVersion> }> {
      assertTemplateName(template);
      const current = running.get(template);
      if (current) return current;
      const dump = await findDump(deps.dumpsDir, template);
      const engine = deps.engines(dump.engine);
      const image = deps.images[dump.engine];
      await runtime.ping();
      if (!(await runtime.imageExists(image))) {
        throw new AppError('bad_request', `image ${image} is not on this Docker engine: build the local images with \`sudo scripts/setup-host.sh\` or set MYAAS_${dump.engine.toUpperCase()}_IMAGE`);
      }
      const version: TemplateVersion = {
        id: newVersionId(),
        template,
        engine: dump.engine,
        status: 'importing',
        image,
        database: null,
        adminPassword: newPassword(),
        sizeBytes: null,
        error: null,
        createdAt: new Date(),
        readyAt: null,
      };
      await store.insertVersion({ ...version, phase: 'queued' });
      const entry = { version, done: run(version, dump, engine) };
      running.set(template, entry);
      return entry;
    },
    isRunning: (versionId: string) => [...running.values()].some((r) => r.version.id === versionId),
    runningTemplates: () => [...running.keys()],
    onProgress(l: (versionId: string, phase: string, ms: number) => void): () => void {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    /** Waits for every running import (used at shutdown and in tests). */
    async drain(): Promise<void> {
      await Promise.allSettled([...running.values()].map((r) => r.done));
    },
  };
}

export type Importer = ReturnType<typeof createImporter>;
