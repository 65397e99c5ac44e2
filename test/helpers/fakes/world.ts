// A small in-memory host for the core's unit tests: volumes on a pool, containers, and database
// servers that know their password. The fakes of Storage, Runtime, Engine, HostFiles, DumpSource and
// HostNet below share it, so what one does the others see (a clone carries its template's password,
// a started container serves its clone on a port, a rotation changes the clone's password).
import type {
  AdminSession,
  ContainerInfo,
  ContainerSpec,
  DumpSource,
  Engine,
  EngineConn,
  HostFiles,
  HostNet,
  Runtime,
  RuntimeEvent,
  Storage,
} from '../../../controller/app/ports.js';
import { AppError } from '../../../controller/domain/errors.js';
import type { Dump } from '../../../controller/domain/dumps.js';
import type { EngineName } from '../../../controller/domain/types.js';

export interface Volume {
  sealed: boolean;
  /** the admin password the datadir's server accepts */
  password: string | null;
  /** bytes it may take (Storage.limit) */
  limitBytes?: number;
}

export interface Container {
  id: string;
  spec: ContainerSpec;
  running: boolean;
  exitCode: number | null;
  hostPort: number | null;
  /** the volume it serves (its first bind) */
  volume: string | null;
  oomKilled?: boolean;
  /** client connections its server holds now (Engine.clientConnections) */
  clients?: number;
}

/** A gate: calls wait at it until the test opens it. */
export interface Gate {
  wait(): Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { wait: () => p, open };
}

type ExecAnswer = { exitCode: number; stdout?: string; stderr?: string };

export interface World {
  volumes: Map<string, Volume>;
  containers: Map<string, Container>;
  /** what happened, in order, e.g. "clone /d/templates/t/v1 -> /d/instances/i1", "start myaas-i1" */
  events: string[];
  /** test hooks: make the next calls fail, or hold them */
  faults: {
    /** start() rejects with this while set (once each) */
    startFailures: Error[];
    /** start() waits here while set */
    startGate: Gate | null;
    /** rotatePassword waits here while set */
    rotateGate: Gate | null;
    /** exec answers by argv[0]; throwing or a non-zero exit makes the step fail */
    exec: (argv: string[]) => ExecAnswer | Promise<ExecAnswer>;
    /** containers whose server never answers */
    deadServers: Set<string>;
    /** clients that connect after the idle check, before the last count ahead of a suspension (once) */
    lateClients: number;
  };
  storage: Storage;
  /** what Storage.space reports for the pool */
  pool: { totalBytes: number; freeBytes: number };
  runtime: Runtime;
  engine(name: EngineName): Engine;
  files: HostFiles & { written: Map<string, string> };
  dumps: DumpSource & { put(d: Dump): void; putCompanion(file: string, text: string): void };
  net: HostNet;
  /** the server listening on a port, if any */
  serverAt(port: number): Container | undefined;
  /** host ports something other than a container listens on (a wake listener): start() cannot bind them */
  portsHeld: Set<number>;
  /** the container's process ends (a crash, or an out-of-memory kill), announced as the engine would */
  kill(containerId: string, opts?: { oom?: boolean; exitCode?: number }): void;
  /** announces an event to the runtime's watchers */
  emit(e: RuntimeEvent): void;
}

export function createWorld(): World {
  const volumes = new Map<string, Volume>();
  const containers = new Map<string, Container>();
  const events: string[] = [];
  const faults: World['faults'] = {
    startFailures: [],
    startGate: null,
    rotateGate: null,
    exec: () => ({ exitCode: 0, stdout: '' }),
    deadServers: new Set(),
    lateClients: 0,
  };
  let nextPort = 40000;
  const portsHeld = new Set<number>();
  const watchers = new Set<(e: RuntimeEvent) => void>();
  const written = new Map<string, string>();
  const dirs = new Set<string>();
  let nextId = 0;
  const tick = () => Promise.resolve();

  const serverAt = (port: number) => [...containers.values()].find((c) => c.running && c.hostPort === port);
  const pool = { totalBytes: 100 * 2 ** 30, freeBytes: 80 * 2 ** 30 };

  const storage: Storage = {
    name: 'btrfs',
    async createVolume(p) {
      await tick();
      if (volumes.has(p)) throw new AppError('conflict', `${p} exists`);
      volumes.set(p, { sealed: false, password: null });
    },
    async seal(p) {
      await tick();
      const v = volumes.get(p);
      if (!v) throw new AppError('storage_unavailable', `no volume ${p}`);
      v.sealed = true;
    },
    async clone(src, dst) {
      await tick();
      const s = volumes.get(src);
      if (!s) throw new AppError('storage_unavailable', `snapshotting ${src}: no such volume`);
      if (volumes.has(dst)) throw new AppError('conflict', `cannot clone ${src}: ${dst} already exists; remove it first`);
      volumes.set(dst, { sealed: false, password: s.password });
      events.push(`clone ${src} -> ${dst}`);
    },
    async exists(p) {
      await tick();
      return volumes.has(p);
    },
    async remove(p) {
      await tick();
      if (volumes.delete(p)) events.push(`remove ${p}`);
    },
    async size() {
      await tick();
      return 1234;
    },
    async ownBytes(p) {
      await tick();
      return volumes.get(p)?.sealed ? 1234 : 56;
    },
    async space() {
      await tick();
      return { ...pool };
    },
    enableLimits: async () => ({ mode: 'squota' }),
    async limit(p, bytes) {
      await tick();
      const v = volumes.get(p);
      if (!v) throw new AppError('storage_unavailable', `no volume ${p}`);
      v.limitBytes = bytes;
      events.push(`limit ${p} ${bytes}`);
    },
  };

  const matches = (c: Container, labels: Record<string, string>) => Object.entries(labels).every(([k, v]) => c.spec.labels[k] === v);
  const info = (c: Container): ContainerInfo => ({
    id: c.id, name: c.spec.name, labels: { ...c.spec.labels }, running: c.running, hostPort: c.running ? c.hostPort : null, exitCode: c.exitCode,
    oomKilled: c.oomKilled ?? false,
  });
  const find = (idOrName: string) => containers.get(idOrName) ?? [...containers.values()].find((c) => c.spec.name === idOrName);

  const runtime: Runtime = {
    async ping() {},
    async imageExists() {
      return true;
    },
    async start(spec) {
      await tick();
      if (faults.startGate) await faults.startGate.wait();
      const failure = faults.startFailures.shift();
      if (failure) throw failure;
      if ([...containers.values()].some((c) => c.spec.name === spec.name)) {
        throw new AppError('conflict', `a container named ${spec.name} already exists`);
      }
      if (spec.publish?.hostPort && portsHeld.has(spec.publish.hostPort)) {
        throw new AppError('conflict', `Bind for 127.0.0.1:${spec.publish.hostPort} failed: port is already allocated`);
      }
      const id = `c${++nextId}`;
      const volume = spec.binds[0]?.host ?? null;
      const hostPort = spec.publish ? spec.publish.hostPort || ++nextPort : null;
      if (spec.cmd[0] === 'init') {
        // initdb: the new datadir takes the admin password the importer staged for it, and exits.
        const staged = written.get(`${spec.binds[1]?.host}/pwfile`);
        const v = volume ? volumes.get(volume) : undefined;
        if (v && staged) v.password = staged.trim();
        containers.set(id, { id, spec, running: false, exitCode: 0, hostPort: null, volume });
        return { id, hostPort: null };
      }
      containers.set(id, { id, spec, running: true, exitCode: null, hostPort, volume });
      events.push(`start ${spec.name}`);
      return { id, hostPort };
    },
    async exec(id, cmd) {
      await tick();
      if (!find(id)?.running) throw new AppError('conflict', `container ${id} is not running`);
      const r = await faults.exec(cmd);
      return { exitCode: r.exitCode, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    },
    async stop(id) {
      await tick();
      const c = find(id);
      if (!c) return null;
      c.running = false;
      c.exitCode = 0;
      return 0;
    },
    async remove(id) {
      await tick();
      const c = find(id);
      if (c && containers.delete(c.id)) events.push(`rm ${c.spec.name}`);
    },
    async removeAll(labels) {
      await tick();
      const found = [...containers.values()].filter((c) => matches(c, labels));
      for (const c of found) {
        containers.delete(c.id);
        events.push(`rm ${c.spec.name}`);
      }
      return found.length;
    },
    async list(labels) {
      await tick();
      return [...containers.values()].filter((c) => matches(c, labels)).map(info);
    },
    async inspect(id) {
      await tick();
      const c = find(id);
      return c ? info(c) : null;
    },
    watch(labels, onEvent) {
      const l = (e: RuntimeEvent) => {
        if (Object.entries(labels).every(([k, v]) => e.kind === 'resynced' || e.labels[k] === v)) onEvent(e);
      };
      watchers.add(l);
      return () => watchers.delete(l);
    },
    async memoryUsage() {
      return 10_000_000;
    },
    async logs() {
      return 'server log line';
    },
  };

  /** The volume behind the server on conn.port, if its container runs and answers. */
  function serve(conn: EngineConn): Volume {
    const c = serverAt(conn.port);
    if (!c || faults.deadServers.has(c.id)) throw Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${conn.port}`), { code: 'ECONNREFUSED' });
    const v = c.volume ? volumes.get(c.volume) : undefined;
    if (!v) throw new Error('the server has no datadir');
    if (v.password !== conn.password) throw Object.assign(new Error(`password authentication failed for user "${conn.user}"`), { code: '28P01' });
    return v;
  }

  function engine(name: EngineName): Engine {
    const session = (conn: EngineConn): AdminSession => {
      const v = serve(conn);
      return {
        async setPassword(pw) {
          await tick();
          v.password = pw;
          events.push(`password ${conn.port}`);
        },
        async close() {},
      };
    };
    return {
      name,
      scheme: name === 'postgres' ? 'postgres' : 'mysql',
      port: name === 'postgres' ? 5432 : 3306,
      dataDir: '/data',
      user: '999:999',
      adminUser: name === 'postgres' ? 'postgres' : 'root',
      dumpExtensions: ['.sql'],
      stopSignal: 'SIGINT',
      scratchDirs: ['/tmp'],
      env: [],
      stagingFiles: (pw) => ({ pwfile: `${pw}\n` }),
      initCommand: () => ['init'],
      configFiles: () => ({ 'server.conf': 'x=1\n' }),
      serverCommand: () => ['server'],
      pingCommand: () => ['ping'],
      createDatabaseCommand: (db) => ['createdb', db],
      loadSqlCommand: (file, db) => ['load', file, db],
      restoreArchiveCommand: (file, db) => ['restore', file, db],
      loadDatabase: (t) => `load_${t}`,
      listDatabasesCommand: () => ['list-databases'],
      countTablesCommand: (db) => ['count-tables', db],
      dropDatabaseCommand: (db) => ['dropdb', db],
      finalizeCommand: () => null,
      renameDatabaseCommand: (a, b) => ['rename', a, b],
      async rotatePassword(conn, next) {
        await tick();
        if (faults.rotateGate) await faults.rotateGate.wait();
        await session(conn).setPassword(next);
      },
      async adminSession(conn) {
        await tick();
        return session(conn);
      },
      async probe(conn) {
        await tick();
        serve(conn);
      },
      url: (c) => `${name}://${c.user}:${c.password}@${c.host}:${c.port}/${c.database}`,
      async clientConnections(conn) {
        await tick();
        serve(conn);
        return serverAt(conn.port)?.clients ?? 0;
      },
      async clientCounter(conn) {
        await tick();
        serve(conn);
        return {
          async count() {
            await tick();
            const c = serverAt(conn.port);
            if (c && faults.lateClients) {
              c.clients = (c.clients ?? 0) + faults.lateClients;
              faults.lateClients = 0;
            }
            return c?.clients ?? 0;
          },
          async close() {},
        };
      },
      async readSchema(conn) {
        return { engine: name, database: conn.database, tables: [], views: [], routines: [], triggers: [] };
      },
      maskingStatements: () => ['check', 'apply'],
      emptyTablesStatements: () => ['truncate'],
      emptyTablesCommand: (db) => ['empty-tables', db],
      sqlScript: (statements) => `${statements.join(';\n')};\n`,
    };
  }

  const files: World['files'] = {
    written,
    async mkdirp(p) {
      dirs.add(p);
    },
    async writeOwned(p, content) {
      written.set(p, content);
    },
    async chown() {},
    async removeTree(p) {
      for (const k of [...written.keys()]) if (k === p || k.startsWith(`${p}/`)) written.delete(k);
      dirs.delete(p);
    },
    async list(dir) {
      const names = new Set<string>();
      for (const p of [...volumes.keys(), ...dirs]) if (p.startsWith(`${dir}/`)) names.add(p.slice(dir.length + 1).split('/')[0]);
      return [...names];
    },
    async exists(p) {
      return volumes.has(p) || dirs.has(p) || written.has(p);
    },
    async sync() {},
    async poolUsage() {
      // 1 GiB pool; every volume counts 1234 bytes
      const used = volumes.size * 1234;
      return { totalBytes: 1 << 30, usedBytes: used, freeBytes: (1 << 30) - used };
    },
    async makeOwnerOnly() {},
  };

  const dumpList: Dump[] = [];
  const companions = new Map<string, string>();
  const dumps: World['dumps'] = {
    dir: '/dumps',
    put: (d) => void dumpList.push(d),
    async scan() {
      return { dumps: [...dumpList], problems: [] };
    },
    async find(template) {
      const d = dumpList.find((x) => x.template === template);
      if (!d) throw new AppError('not_found', `no dump for template "${template}"`);
      return d;
    },
    folder: (engineName) => `/dumps/${engineName}`,
    async decompress() {},
    async readCompanion(_dump, file) {
      const text = companions.get(file);
      if (text === undefined) throw new Error(`no file ${file}`);
      return text;
    },
    putCompanion: (file, text) => void companions.set(file, text),
  };

  const net: HostNet = {
    async freePort() {
      return ++nextPort;
    },
  };

  const emit = (e: RuntimeEvent) => watchers.forEach((w) => w(e));
  const kill = (id: string, opts: { oom?: boolean; exitCode?: number } = {}) => {
    const c = containers.get(id);
    if (!c) throw new Error(`no container ${id}`);
    c.running = false;
    c.exitCode = opts.exitCode ?? (opts.oom ? 137 : 1);
    c.oomKilled = opts.oom ?? false;
    if (opts.oom) emit({ kind: 'oom', containerId: id, labels: { ...c.spec.labels } });
    emit({ kind: 'died', containerId: id, labels: { ...c.spec.labels } });
  };

  return { volumes, containers, events, faults, storage, pool, runtime, engine, files, dumps, net, serverAt, portsHeld, kill, emit };
}
