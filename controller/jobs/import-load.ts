// The load itself: a fresh datadir initialised and served inside the engine's image, the dump loaded,
// the template's database chosen, an optional after-script, and a clean shutdown. Throws with what
// went wrong (the tool's own last lines); the importer cleans up.
import { join } from 'node:path';
import { AppError } from '../domain/errors.js';
import { importLabels } from '../domain/labels.js';
import type { Paths } from '../domain/layout.js';
import type { Dump } from '../domain/dumps.js';
import { parseMaskRules } from '../domain/masking.js';
import { planDatabase, tail } from '../domain/templates.js';
import type { TemplateVersion } from '../domain/types.js';
import { retry } from '../lib/retry.js';
import type { Clock, ContainerSpec, DumpSource, Engine, HostFiles, Runtime, Storage } from '../app/ports.js';
import { confinement } from './provision.js';

const STAGING = '/myaas';
const DUMPS = '/dumps';

export interface LoadDeps {
  runtime: Runtime;
  storage: Storage;
  files: HostFiles;
  dumps: DumpSource;
  paths: Paths;
  clock: Clock;
  home: string;
  /** parallel jobs of pg_restore */
  jobs: number;
  /** what each import container may use */
  limits: { memoryBytes: number; cpus: number; pidsLimit: number };
}

const FULL = /No space left|ENOSPC|disk full|Errcode: 28/i;

export function createLoader(deps: LoadDeps) {
  const { runtime, clock } = deps;

  async function execOk(engine: Engine, id: string, cmd: string[], what: string): Promise<string> {
    const out = await runtime.exec(id, cmd, { user: engine.user });
    if (out.exitCode !== 0) {
      const why = tail(out.stderr || out.stdout) || `exit code ${out.exitCode}`;
      if (FULL.test(why)) throw new AppError('insufficient_storage', `${what} failed: the storage pool is full (${why}); free space or grow the pool`);
      throw new AppError('import_failed', `${what} failed: ${why}`);
    }
    return out.stdout;
  }

  /** Runs a one-shot container to completion; throws with its output on failure. */
  async function runOnce(spec: ContainerSpec, what: string): Promise<void> {
    const { id } = await runtime.start(spec);
    try {
      const info = await retry(
        async () => {
          const i = await runtime.inspect(id);
          if (!i || i.running) throw new Error('still running');
          return i;
        },
        { clock, what, deadline: clock.now() + 300_000, delay: 100 },
      );
      if (info.exitCode !== 0) throw new AppError('import_failed', `${what} failed (exit ${info.exitCode}): ${tail(await runtime.logs(id, 20))}`);
    } finally {
      await runtime.remove(id);
    }
  }

  /** Loads `dump` into version `v`'s new datadir; answers the database that holds the data. */
  return async function load(v: TemplateVersion, dump: Dump, engine: Engine, phase: (p: string) => Promise<void>): Promise<string> {
    const dir = deps.paths.version(v.template, v.id);
    const staging = deps.paths.staging(v.id);
    const [uid, gid] = engine.user.split(':').map(Number);
    const owner = { uid, gid };
    const { limits } = deps;
    const base = {
      image: v.image,
      user: engine.user,
      env: [...engine.env],
      // The import server listens only inside its container and loads files: it needs no network.
      network: 'none' as const,
      memoryBytes: limits.memoryBytes,
      nanoCpus: Math.round(limits.cpus * 1e9),
      confine: confinement(engine, limits.memoryBytes, limits.pidsLimit),
      labels: importLabels(deps.home, v),
      binds: [
        { host: dir, container: engine.dataDir },
        { host: staging, container: STAGING },
        { host: deps.dumps.folder(dump.engine), container: DUMPS, readOnly: true },
      ],
      shmBytes: 256 * 1024 * 1024,
    };
    await phase('preparing datadir');
    await deps.files.mkdirp(join(dir, '..'));
    await deps.storage.createVolume(dir);
    await deps.files.chown(dir, owner);
    await deps.files.mkdirp(staging, 0o700);
    await deps.files.chown(staging, owner);
    for (const [name, content] of Object.entries(engine.stagingFiles(v.adminPassword))) {
      await deps.files.writeOwned(join(staging, name), content, owner, 0o600);
    }
    let file = `${DUMPS}/${dump.file}`;
    if (dump.format === 'sql.gz') {
      await phase('decompressing dump');
      await deps.dumps.decompress(dump, join(staging, 'dump.sql'));
      // The controller's umask makes it owner-only: the engine's user must own it to read it.
      await deps.files.chown(join(staging, 'dump.sql'), owner);
      file = `${STAGING}/dump.sql`;
    }

    await phase('initialising datadir');
    await runOnce({ ...base, name: `myaas-init-${v.id}`, cmd: engine.initCommand(STAGING) }, 'initialising the datadir');
    for (const [name, content] of Object.entries(engine.configFiles())) {
      await deps.files.writeOwned(join(dir, name), content, owner, 0o600);
    }

    await phase('starting import server');
    const { id } = await runtime.start({ ...base, name: `myaas-import-${v.id}`, cmd: engine.serverCommand('import', STAGING) });
    await retry(
      async () => {
        const i = await runtime.inspect(id);
        if (!i?.running) throw new AppError('import_failed', `the import server exited: ${tail(await runtime.logs(id, 20))}`);
        await execOk(engine, id, engine.pingCommand(), 'ping');
      },
      {
        clock, what: 'the import server', deadline: clock.now() + 120_000, delay: 200,
        retryable: (e) => !(e instanceof AppError && /exited/.test(e.message)),
      },
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
    if (dump.maskFile) {
      // Before the after-script, so that it sees (and may build on) masked data; a rule naming a missing
      // column fails here, with the file and the entry named, and the version never becomes latest.
      await phase(`masking with ${dump.maskFile}`);
      const rules = parseMaskRules(dump.maskFile, await deps.dumps.readCompanion(dump, dump.maskFile), engine.name);
      await deps.files.writeOwned(join(staging, 'mask.sql'), engine.sqlScript(engine.maskingStatements(rules, plan.database)), owner, 0o600);
      await execOk(engine, id, engine.loadSqlCommand(`${STAGING}/mask.sql`, plan.database), `masking with ${dump.maskFile}`);
    }
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
    // Files written by the engine's tools rather than its server (e.g. mariadb-install-db's) follow the
    // container's umask of 022: take group and other access away before the version is sealed.
    await deps.files.makeOwnerOnly(dir, { recursive: true });
    return plan.database;
  };
}
