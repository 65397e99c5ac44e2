// The test bed of a campaign: a private Docker engine and pool, a data dir on it with the Chinook
// dumps, and the controller process started (and started again) on them.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { createSlot } from './actors.js';
import { spawnController, startController, type ControllerProc } from './controller.js';
import { privateDocker, privateDockerDown, type PrivateDocker } from './private-docker.js';

const SAMPLES = fileURLToPath(new URL('../../../samples/chinook/', import.meta.url));

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export interface Bed {
  engine: PrivateDocker;
  dataDir: string;
  dumpsDir: string;
  logFile: string;
  slot: ReturnType<typeof createSlot>;
  /** starts the controller (waiting until it answers) and makes it the current one */
  start(): Promise<ControllerProc>;
  /** starts it without waiting for it to answer (to kill it during its start-up) */
  spawn(): ControllerProc;
  /** the engine's dockerd pid (its docker-proxy children hold the published ports) */
  enginePid(): Promise<number | null>;
  /** stops the controller and removes the engine, pool and everything on them */
  close(): Promise<void>;
}

/**
 * A fresh bed: whatever an earlier run of the same name left is removed first. `ports` is the bed's
 * MYAAS_PORT_RANGE: below the ephemeral range, apart from other beds', so that no other engine's
 * container (nor an outgoing connection) takes an instance's port while its server is down.
 */
export async function openBed(o: { name: string; workDir: string; env: Record<string, string>; ports: string }): Promise<Bed> {
  await privateDockerDown(o.name);
  const engine = await privateDocker(o.name);
  const dataDir = join(engine.poolDir, 'ctl');
  const dumpsDir = join(dataDir, 'dumps');
  await mkdir(join(dumpsDir, 'postgres'), { recursive: true });
  await mkdir(join(dumpsDir, 'mariadb'), { recursive: true });
  await writeFile(join(dumpsDir, 'postgres', 'chinook.sql'), gunzipSync(await readFile(join(SAMPLES, 'postgres.sql.gz'))));
  await writeFile(join(dumpsDir, 'mariadb', 'chinook-my.sql'), gunzipSync(await readFile(join(SAMPLES, 'mysql.sql.gz'))));
  await mkdir(o.workDir, { recursive: true });
  const logFile = join(o.workDir, `${o.name}-controller.log`);
  await rm(logFile, { force: true });
  const port = await freePort();
  const slot = createSlot();
  const opts = { dataDir, port, dockerHost: engine.dockerHost, logFile, env: { MYAAS_PORT_RANGE: o.ports, ...o.env } };
  return {
    engine,
    dataDir,
    dumpsDir,
    logFile,
    slot,
    async start() {
      const c = await startController(opts);
      slot.set(c);
      return c;
    },
    spawn: () => spawnController(opts),
    enginePid: () => engine.enginePid(),
    async close() {
      const c = slot.get();
      if (c) await c.stop().catch(() => undefined);
      await engine.down();
    },
  };
}

/** Imports templates through the API, one after another, and waits for each to be ready. */
export async function importAll(ctl: ControllerProc, templates: string[], timeoutMs = 300_000): Promise<void> {
  for (const t of templates) {
    const r = await ctl.api('POST', `/api/v1/templates/${t}/import`);
    if (r.status !== 202) throw new Error(`import of ${t} not accepted: ${r.status} ${JSON.stringify(r.body)}`);
    const id = r.body.version.id;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ts = (await ctl.api<any[]>('GET', '/api/v1/templates')).body;
      const v = ts.find((x) => x.name === t)?.versions.find((x: any) => x.id === id);
      if (v?.status === 'ready') break;
      if (v && v.status !== 'importing') throw new Error(`import of ${t} ended ${v.status}: ${v.error}`);
      if (Date.now() > deadline) throw new Error(`import of ${t} did not finish`);
      await new Promise((res) => setTimeout(res, 500));
    }
  }
}
