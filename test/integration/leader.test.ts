// Two controllers on one data dir and one PostgreSQL state DB (DATABASE_URL): the leader lock makes
// one active and the other a standby (health says so, the API answers 503). kill -9 of the active:
// the standby takes over within 15 s, and the instance the dead one made is still there, once.
// Then the active's lock connection is cut: it exits, and the restarted first one takes over.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCommandRunner } from '../../controller/host/command.js';
import { createRuntime } from '../../controller/runtime/index.js';
import { createStorage } from '../../controller/storage/index.js';
import { addChinookDumps, TOKEN } from '../helpers/controller.js';
import { freeTcpPort, importThrough, spawnController, type ControllerProcess } from '../helpers/process.js';
import { startStatePostgres } from '../helpers/state-postgres.js';
import { POOLS, psql, requireDocker, requirePool, until } from '../helpers/testbed.js';

const dataDir = join(POOLS.btrfs, `it-leader-${process.pid}`);
const runtime = createRuntime('docker');
const storage = createStorage('btrfs', createCommandRunner());
let pg: Awaited<ReturnType<typeof startStatePostgres>> | null = null;
let ports: [number, number];
const procs: ControllerProcess[] = [];

const env = () => ({ DATABASE_URL: pg!.url, MYAAS_SCHEMA_VARIANTS: 'false' });
const spawn = async (port: number) => {
  const c = await spawnController(dataDir, port, env());
  procs.push(c);
  return c;
};
const health = async (c: ControllerProcess) => {
  try {
    return (await (await fetch(`${c.url}/healthz`)).json()) as any;
  } catch {
    return null; // not listening (killed, exiting)
  }
};
const exited = (c: ControllerProcess) =>
  c.child.exitCode !== null ? Promise.resolve(c.child.exitCode) : new Promise<number | null>((r) => c.child.once('exit', (code) => r(code)));
const instanceContainers = (id: string) => runtime.list({ 'myaas.home': dataDir, 'myaas.instance': id });

describe('leader lock: two controllers on one PostgreSQL state DB', () => {
  beforeAll(async () => {
    await requireDocker();
    requirePool(POOLS.btrfs, 'btrfs');
    pg = await startStatePostgres();
    await addChinookDumps(join(dataDir, 'dumps'));
    ports = [await freeTcpPort(), await freeTcpPort()];
  }, 300_000);

  afterAll(async () => {
    for (const c of procs) if (c.child.exitCode === null && c.child.signalCode === null) await c.kill9();
    for (const x of await runtime.list({ 'myaas.home': dataDir })) await runtime.remove(x.id);
    for (const d of await readdir(join(dataDir, 'instances')).catch(() => [])) await storage.remove(join(dataDir, 'instances', d));
    for (const t of await readdir(join(dataDir, 'templates')).catch(() => [])) {
      for (const v of await readdir(join(dataDir, 'templates', t))) await storage.remove(join(dataDir, 'templates', t, v));
    }
    await rm(dataDir, { recursive: true, force: true });
    await pg?.stop();
  }, 120_000);

  it('one active, one standby; kill -9 of the active hands over within 15 s with the instance kept, once', async () => {
    const a = await spawn(ports[0]);
    await until('the first controller to become active', async () => (await health(a))?.role === 'active', 60_000);
    const b = await spawn(ports[1]);

    // The standby says what it is and who is active, and answers the API with 503.
    const hb = await health(b);
    expect(hb).toMatchObject({ ok: true, role: 'standby', active: { url: a.url, pid: a.child.pid } });
    expect(await health(a)).toMatchObject({ ok: true, role: 'active', storage: 'btrfs' });
    const refused = await fetch(`${b.url}/api/v1/instances`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as any).error).toMatchObject({ code: 'standby', message: expect.stringContaining(a.url) });
    const metrics = async (c: ControllerProcess) => (await fetch(`${c.url}/api/v1/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(await metrics(a)).toMatch(/^myaas_leader 1$/m);
    expect(await metrics(b)).toMatch(/^myaas_leader 0$/m);
    // The standby does not hold the data dir: the active's lock file names the active.
    expect(b.output()).not.toMatch(/took the leader lock/);

    // A template and an instance, through the active.
    await importThrough(a, 'chinook');
    const made = await a.api('POST', '/api/v1/instances?wait=60', { template: 'chinook', name: 'kept' });
    expect(made.body.status, made.body.error).toBe('ready');
    await psql(made.body.connection.url, 'create table marker as select 7 as n');
    const [before] = await instanceContainers(made.body.id);
    expect(before).toBeDefined();

    // kill -9 of the active: the standby takes over.
    const killedAt = Date.now();
    await a.kill9();
    await until('the standby to become active', async () => (await health(b))?.role === 'active', 15_000);
    const handoverMs = Date.now() - killedAt;
    const got = await b.api('GET', `/api/v1/instances/${made.body.id}`);
    const answeredMs = Date.now() - killedAt;
    console.log(`leader handover: standby active ${handoverMs} ms after kill -9 of the active, API answered at ${answeredMs} ms`);
    expect(handoverMs).toBeLessThan(15_000);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: made.body.id, status: 'ready', connection: { port: made.body.connection.port, url: made.body.connection.url } });
    expect(await psql(got.body.connection.url, 'select n from marker')).toBe('7');
    const after = await instanceContainers(made.body.id);
    expect(after.map((x) => x.id)).toEqual([before.id]); // the same container, not a second one
    const list = await b.api('GET', '/api/v1/instances');
    expect((list.body as any[]).filter((i) => i.name === 'kept')).toHaveLength(1);
    expect(b.output()).toMatch(/took the leader lock/);

    // A supervisor restarts the killed one: it stands by, naming the new active.
    const a2 = await spawn(ports[0]);
    expect(await health(a2)).toMatchObject({ role: 'standby', active: { url: b.url, pid: b.child.pid } });
    expect((await fetch(`${a2.url}/api/v1/templates`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(503);
  }, 600_000);

  it('an active whose lock connection is cut exits at once, and the standby takes over', async () => {
    const [, b, a2] = procs;
    expect((await health(b))?.role).toBe('active');
    // Cut the active's lock session on the server (as a failover or a network cut would).
    const { default: postgres } = await import('postgres');
    const sql = postgres(pg!.url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ backend_pid: number }[]>`select backend_pid from controller_leader where id = 1`;
      const [cut] = await sql<{ ok: boolean }[]>`select pg_terminate_backend(${row.backend_pid}) as ok`;
      expect(cut.ok).toBe(true);
    } finally {
      await sql.end();
    }
    const cutAt = Date.now();
    const code = await Promise.race([exited(b), new Promise((r) => setTimeout(() => r('still running 10 s after its lock was cut'), 10_000))]);
    expect(code).toBe(1);
    expect(Date.now() - cutAt).toBeLessThan(5_000);
    expect(b.output()).toMatch(/lost the leader lock/);
    await until('the standby to become active', async () => (await health(a2))?.role === 'active', 15_000);
    const list = (await a2.api('GET', '/api/v1/instances')).body as any[];
    const kept = list.filter((i) => i.name === 'kept');
    expect(kept).toHaveLength(1);
    const one = await a2.api('GET', `/api/v1/instances/${kept[0].id}?wait=30`);
    expect(one.body.status).toBe('ready');
    expect(await psql(one.body.connection.url, 'select n from marker')).toBe('7');
    expect(await instanceContainers(kept[0].id)).toHaveLength(1);
  }, 120_000);
});
