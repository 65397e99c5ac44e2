// Two controllers in front of the 3-node test-bed Swarm (MYAAS_RUNTIME=swarm) sharing a PostgreSQL
// state DB: one active, one standby. kill -9 of the active → the standby takes over within 15 s,
// and the instance the dead one placed on a node is still there, once: the same service, the same
// node, port, URL and data.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCommandRunner } from '../../controller/host/command.js';
import { createStorage } from '../../controller/storage/index.js';
import { clusterUp, type Cluster } from '../helpers/cluster.js';
import { addChinookDumps } from '../helpers/controller.js';
import { freeTcpPort, importThrough, spawnController, type ControllerProcess } from '../helpers/process.js';
import { startStatePostgres } from '../helpers/state-postgres.js';
import { POOLS, psql, requirePool, until } from '../helpers/testbed.js';

const dataDir = join(POOLS.btrfs, `it-cluster-leader-${process.pid}`);
const storage = createStorage('btrfs', createCommandRunner());
let cluster: Cluster;
let pg: Awaited<ReturnType<typeof startStatePostgres>> | null = null;
const procs: ControllerProcess[] = [];

const health = async (c: ControllerProcess) => {
  try {
    return (await (await fetch(`${c.url}/healthz`)).json()) as any;
  } catch {
    return null;
  }
};
const services = (labels: Record<string, string>) =>
  cluster.manager.docker.listServices({ filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) } });

describe('leader lock in front of a Swarm', () => {
  beforeAll(async () => {
    requirePool(POOLS.btrfs, 'btrfs');
    cluster = await clusterUp(3);
    pg = await startStatePostgres();
    await addChinookDumps(join(dataDir, 'dumps'));
  }, 600_000);

  afterAll(async () => {
    for (const c of procs) if (c.child.exitCode === null && c.child.signalCode === null) await c.kill9();
    for (const s of await services({ 'myaas.home': dataDir }).catch(() => [])) await cluster.manager.docker.getService(s.ID).remove().catch(() => undefined);
    for (const t of await readdir(join(dataDir, 'templates')).catch(() => [])) {
      for (const v of await readdir(join(dataDir, 'templates', t))) await storage.remove(join(dataDir, 'templates', t, v)).catch(() => undefined);
    }
    await rm(dataDir, { recursive: true, force: true });
    await pg?.stop();
    await cluster?.down();
  }, 300_000);

  it('kill -9 of the active controller: the standby takes over within 15 s; the instance keeps its service, node, URL and data', async () => {
    const nodes = cluster.nodes;
    const env = {
      DATABASE_URL: pg!.url,
      MYAAS_SCHEMA_VARIANTS: 'false',
      MYAAS_RUNTIME: 'swarm',
      MYAAS_SWARM_MANAGER: cluster.manager.dockerHost,
      MYAAS_SWARM_NODE_ENGINES: nodes.map((x) => `myaas-${x.name}=${x.dockerHost}`).join(','),
      MYAAS_SWARM_NODE_POOLS: nodes.map((x) => `myaas-${x.name}=${x.pool}`).join(','),
      MYAAS_MEMORY_LIMIT: '256m',
    };
    const a = await spawnController(dataDir, await freeTcpPort(), env);
    procs.push(a);
    await until('the first controller to become active', async () => (await health(a))?.role === 'active', 60_000);
    const b = await spawnController(dataDir, await freeTcpPort(), env);
    procs.push(b);
    expect(await health(b)).toMatchObject({ role: 'standby', active: { url: a.url } });

    await importThrough(a, 'chinook');
    const made = await a.api('POST', '/api/v1/instances?wait=120', { template: 'chinook', name: 'kept' });
    expect(made.body.status, made.body.error).toBe('ready');
    expect(nodes.map((n) => n.addr)).toContain(made.body.connection.host);
    await psql(made.body.connection.url, 'create table marker as select 7 as n');
    const before = await services({ 'myaas.home': dataDir, 'myaas.instance': made.body.id });
    expect(before).toHaveLength(1);

    const killedAt = Date.now();
    await a.kill9();
    await until('the standby to become active', async () => (await health(b))?.role === 'active', 15_000);
    const handoverMs = Date.now() - killedAt;
    console.log(`cluster leader handover: standby active ${handoverMs} ms after kill -9 of the active`);
    expect(handoverMs).toBeLessThan(15_000);
    const got = await b.api('GET', `/api/v1/instances/${made.body.id}`);
    expect(got.body).toMatchObject({ id: made.body.id, status: 'ready', connection: { host: made.body.connection.host, port: made.body.connection.port, url: made.body.connection.url } });
    expect(await psql(got.body.connection.url, 'select n from marker')).toBe('7');
    // The new active's start-up sweep adopted the service: the same one, not a second.
    const after = await services({ 'myaas.home': dataDir, 'myaas.instance': made.body.id });
    expect(after.map((s) => s.ID)).toEqual([before[0].ID]);
    const list = (await b.api('GET', '/api/v1/instances')).body as any[];
    expect(list.filter((i) => i.name === 'kept')).toHaveLength(1);

    expect((await b.api('DELETE', `/api/v1/instances/${made.body.id}?wait=60`)).body.status).toBe('destroyed');
    expect(await services({ 'myaas.home': dataDir })).toEqual([]);
  }, 900_000);
});
