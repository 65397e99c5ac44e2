// A real database server of one engine in a container of the local engine image, set up and run with
// the engine's own members (initCommand, serverCommand, loadSqlCommand…) as the importer does, but
// driven by the docker CLI so that tests of engine-level pieces need no controller. `close()` removes
// the container and the data dir even after a failure.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import postgres from 'postgres';
import type { EngineName } from '../../controller/domain/types.js';
import type { Engine, EngineConn } from '../../controller/engines/engine.js';
import { createEngine } from '../../controller/engines/index.js';
import { systemClock } from '../../controller/lib/clock.js';
import { IMAGES, POOLS } from './testbed.js';

const exec = promisify(execFile);
const STAGING = '/myaas';

export interface ExecOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface EngineServer {
  engine: Engine;
  /** the admin password set at init */
  password: string;
  /** runs argv in the server's container as the server user */
  exec(argv: string[]): Promise<ExecOutput>;
  /** like exec, throwing with stderr on a non-zero exit */
  execOk(argv: string[]): Promise<string>;
  /** writes a file into the staging dir; returns its path inside the container */
  stage(name: string, content: string | Buffer): Promise<string>;
  /** loads SQL text with the engine's loadSqlCommand into `database`, creating it first */
  load(sql: string | Buffer, database: string): Promise<void>;
  /** shuts the server down cleanly and starts it again for `purpose` (an instance publishes its port) */
  restart(purpose: 'import' | 'instance'): Promise<void>;
  /** connection details to `database` (instance purpose only) */
  conn(database: string): EngineConn;
  /** runs one statement over the wire as the admin user (instance purpose only); dates as strings */
  query(database: string, sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

async function docker(args: string[]): Promise<string> {
  const { stdout } = await exec('docker', args, { maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
  return stdout.trim();
}

export async function startEngineServer(engineName: EngineName, purpose: 'import' | 'instance'): Promise<EngineServer> {
  const engine = createEngine(engineName, systemClock());
  const id = `schema-test-${engineName}-${randomBytes(4).toString('hex')}`;
  const root = join(POOLS.btrfs, id);
  const dataDir = join(root, 'data');
  const stagingDir = join(root, 'staging');
  const password = randomBytes(18).toString('base64url');
  const [uid, gid] = engine.user.split(':').map(Number);
  let port = 0;
  const binds = ['-v', `${dataDir}:${engine.dataDir}`, '-v', `${stagingDir}:${STAGING}`];
  const common = ['--user', engine.user, '--label', 'myaas-test=schema', '--shm-size', '256m', ...binds];

  async function writeOwned(path: string, content: string | Buffer): Promise<void> {
    await writeFile(path, content, { mode: 0o600 });
    await chown(path, uid, gid);
  }

  async function run(p: 'import' | 'instance'): Promise<void> {
    const publish = p === 'instance' ? ['-p', `127.0.0.1::${engine.port}`] : [];
    await docker(['run', '-d', '--name', id, ...common, ...publish, IMAGES[engineName], ...engine.serverCommand(p, STAGING)]);
    port = p === 'instance' ? Number((await docker(['port', id, `${engine.port}/tcp`])).split('\n')[0].split(':').pop()) : 0;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const out = await server.exec(engine.pingCommand());
      if (out.exitCode === 0) break;
      if ((await docker(['inspect', '-f', '{{.State.Running}}', id])) !== 'true') {
        throw new Error(`${id} exited: ${await docker(['logs', '--tail', '20', id]).catch(() => '')}`);
      }
      if (Date.now() > deadline) throw new Error(`${id} did not answer: ${out.stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    if (p === 'instance') await engine.probe(server.conn(engine.name === 'postgres' ? 'postgres' : ''), Date.now() + 60_000);
  }

  const server: EngineServer = {
    engine,
    password,
    async exec(argv) {
      try {
        const { stdout, stderr } = await exec('docker', ['exec', '-u', engine.user, id, ...argv], { maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
        return { exitCode: 0, stdout, stderr };
      } catch (e) {
        const err = e as { code?: number; stdout?: string; stderr?: string };
        return { exitCode: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? String(e) };
      }
    },
    async execOk(argv) {
      const out = await server.exec(argv);
      if (out.exitCode !== 0) throw new Error(`${argv.slice(0, 3).join(' ')}… failed (${out.exitCode}): ${out.stderr || out.stdout}`);
      return out.stdout;
    },
    async stage(name, content) {
      await writeOwned(join(stagingDir, name), content);
      return `${STAGING}/${name}`;
    },
    async load(sql, database) {
      await server.execOk(engine.createDatabaseCommand(database));
      const file = await server.stage(`load-${randomBytes(4).toString('hex')}.sql`, sql);
      await server.execOk(engine.loadSqlCommand(file, database));
    },
    async restart(p) {
      await docker(['kill', '-s', engine.stopSignal, id]);
      const code = await docker(['wait', id]);
      if (code !== '0') throw new Error(`${id} did not shut down cleanly (exit ${code})`);
      await docker(['rm', id]);
      await run(p);
    },
    conn(database) {
      if (!port) throw new Error('the server does not publish a port: restart it for the instance purpose');
      return { host: '127.0.0.1', port, user: engine.adminUser, password, database };
    },
    async query(database, sql) {
      const c = server.conn(database);
      if (engine.name === 'postgres') {
        // Dates stay the text the server sent, so that before and after compare as they are.
        const dates = { to: 1184, from: [1082, 1114, 1184], serialize: (x: unknown) => String(x), parse: (x: string) => x };
        const pg = postgres({ host: c.host, port: c.port, user: c.user, password: c.password, database, max: 1, onnotice: () => {}, types: { dates } });
        try {
          return [...(await pg.unsafe(sql))];
        } finally {
          await pg.end({ timeout: 1 });
        }
      }
      const my = await mysql.createConnection({
        host: c.host, port: c.port, user: c.user, password: c.password, database, dateStrings: true, supportBigNumbers: true, bigNumberStrings: true,
      });
      try {
        return (await my.query(sql))[0] as Record<string, unknown>[];
      } finally {
        await my.end();
      }
    },
    async close() {
      await docker(['rm', '-f', '-v', id]).catch(() => {});
      await docker(['rm', '-f', `${id}-init`]).catch(() => {});
      await rm(root, { recursive: true, force: true });
    },
  };

  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await mkdir(stagingDir, { recursive: true, mode: 0o700 });
    await chown(dataDir, uid, gid);
    await chown(stagingDir, uid, gid);
    for (const [name, content] of Object.entries(engine.stagingFiles(password))) await writeOwned(join(stagingDir, name), content);
    await docker(['run', '--rm', '--name', `${id}-init`, ...common, IMAGES[engineName], ...engine.initCommand(STAGING)]);
    for (const [name, content] of Object.entries(engine.configFiles())) await writeOwned(join(dataDir, name), content);
    // MariaDB creates its network admin account from the staging init file only when started for import.
    await run('import');
    if (purpose === 'instance') await server.restart('instance');
    return server;
  } catch (e) {
    await server.close();
    throw e;
  }
}
