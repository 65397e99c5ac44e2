// The controller as the Swarm stack an operator deploys (deploy/stack.yaml): the controller image built
// from this checkout, two replicas on the two managers of the 3-node test bed, their state in one
// PostgreSQL, their settings in a Swarm secret. One is active, the other stands by; the active's
// container killed → the standby takes over within 15 s, the instance the first one made is still
// there once (same service, node, port, URL, data), and Swarm starts the killed one again as the standby.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterUp, type Cluster } from '../helpers/cluster.js';
import { addChinookDumps, TOKEN } from '../helpers/controller.js';
import { startStatePostgres } from '../helpers/state-postgres.js';
import { IMAGES, POOLS, psql, requirePool, until } from '../helpers/testbed.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STACK = 'myaas-it';
const SERVICE = `${STACK}_controller`;
const PORT = 5001;
// The same path on every node, each node's own pool underneath (scripts/testbed-cluster.sh).
const DATA_DIR = '/var/lib/myaas-cluster/local/myaas';
const SOCKET = '/run/myaas-cluster/local/docker.sock';
const TAG = `myaas:stack-it-${process.pid}`;
const BASE = 'myaas-local/node:24';
const CA = '/etc/ssl/certs/ca-certificates.crt';
const dumpsDir = join(POOLS.btrfs, `it-stack-dumps-${process.pid}`);

let cluster: Cluster;
let pg: Awaited<ReturnType<typeof startStatePostgres>> | null = null;
let built = false;

const replicaUrl = (k: number) => `http://10.231.0.${10 + k}:${PORT}`;
const health = async (k: number): Promise<any | null> => {
  try {
    const res = await fetch(`${replicaUrl(k)}/healthz`, { signal: AbortSignal.timeout(2000) });
    return await res.json();
  } catch {
    return null;
  }
};
const api = async (k: number, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${replicaUrl(k)}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};
const docker = (...args: string[]) =>
  exec('docker', ['-H', cluster.manager.dockerHost, ...args], { cwd: ROOT, maxBuffer: 16 << 20, timeout: 300_000 });
const instanceServices = (id?: string) =>
  cluster.manager.docker.listServices({ filters: { label: [`myaas.home=${DATA_DIR}`, ...(id ? [`myaas.instance=${id}`] : [])] } });
/** The node (1 or 2) whose replica holds the leader lock, and the other. */
async function roles(): Promise<{ active: number; standby: number } | null> {
  const [h1, h2] = await Promise.all([health(1), health(2)]);
  if (h1?.role === 'active' && h2?.role === 'standby') return { active: 1, standby: 2 };
  if (h2?.role === 'active' && h1?.role === 'standby') return { active: 2, standby: 1 };
  return null;
}

describe('the controller as a Swarm stack (deploy/stack.yaml)', () => {
  beforeAll(async () => {
    requirePool(POOLS.btrfs, 'btrfs');
    cluster = await clusterUp(3);
    // A second manager for the second replica.
    await docker('node', 'promote', 'myaas-node2');
    await until('node2 to be a reachable manager', async () => {
      const n = await cluster.manager.docker.getNode('myaas-node2').inspect();
      return n.ManagerStatus?.Reachability === 'reachable';
    }, 60_000);
    pg = await startStatePostgres({ hostIp: '10.231.0.1' });
    // The image, built as an operator builds it, on each manager (no registry here).
    const args = [join(ROOT, 'scripts/build-image.sh'), '-t', TAG, '--base', BASE, '--ca', CA];
    await exec('bash', args, { cwd: ROOT, timeout: 900_000, maxBuffer: 64 << 20 });
    built = true;
    for (const k of [1, 2]) {
      await exec('bash', ['-c', 'docker save "$1" | docker -H "$2" load -q', 'load', TAG, cluster.nodes[k - 1].dockerHost], { timeout: 300_000 });
    }
    await addChinookDumps(dumpsDir);
    const dir = await mkdtemp(join(tmpdir(), 'myaas-stack-'));
    try {
      const settings = {
        DATABASE_URL: pg.url,
        MYAAS_API_TOKENS: TOKEN,
        // The nodes' pool agents: the replicas mount no node's pool (test/fixtures/stack-testbed.yaml).
        MYAAS_SWARM_NODE_POOLS: cluster.nodes.map((x) => `myaas-${x.name}=${x.agentUrl}`).join(','),
        MYAAS_AGENT_TOKEN: cluster.agentToken,
        MYAAS_SWARM_NODE_ENGINES: cluster.nodes.map((x) => `myaas-${x.name}=${x.dockerHost}`).join(','),
        MYAAS_POSTGRES_IMAGE: IMAGES.postgres,
        MYAAS_MARIADB_IMAGE: IMAGES.mariadb,
        MYAAS_SCHEMA_VARIANTS: 'false',
        MYAAS_MEMORY_LIMIT: '256m',
      };
      await writeFile(join(dir, 'config.json'), JSON.stringify(settings), { mode: 0o600 });
      await docker('secret', 'create', 'myaas-config', join(dir, 'config.json'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // The replicas' data dir exists on each manager's pool.
    for (const k of [1, 2]) await mkdir(join(cluster.nodes[k - 1].pool, 'local', 'myaas'), { recursive: true });
    await exec('docker', ['-H', cluster.manager.dockerHost, 'stack', 'deploy', '--resolve-image', 'never', '-c', 'deploy/stack.yaml', '-c', 'test/fixtures/stack-testbed.yaml', STACK], {
      cwd: ROOT,
      env: { ...process.env, MYAAS_IMAGE: TAG, MYAAS_DOCKER_SOCKET: SOCKET, MYAAS_DATA_DIR: DATA_DIR, MYAAS_DUMPS_DIR: dumpsDir, MYAAS_PORT: String(PORT) },
    });
  }, 1_200_000);

  afterAll(async () => {
    if (cluster) {
      await docker('stack', 'rm', STACK).catch(() => undefined);
      for (const s of await instanceServices().catch(() => [])) await cluster.manager.docker.getService(s.ID).remove().catch(() => undefined);
      await docker('secret', 'rm', 'myaas-config').catch(() => undefined);
    }
    await pg?.stop();
    await rm(dumpsDir, { recursive: true, force: true });
    if (built) await exec('docker', ['rmi', TAG]).catch(() => undefined);
    // The replicas' data dirs are on the nodes' pools, which go with the bed.
    await cluster?.down();
  }, 300_000);

  it('two replicas on the managers, one active; killing the active hands over within 15 s with nothing lost or doubled', async () => {
    const service = await cluster.manager.docker.getService(SERVICE).inspect();
    const spec = service.Spec.TaskTemplate;
    // As deploy/stack.yaml says: capabilities it needs and no others, the secret owner-only, none in the environment.
    expect([...spec.ContainerSpec.CapabilityAdd].sort()).toEqual(['CAP_LINUX_IMMUTABLE', 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN']);
    expect(spec.ContainerSpec.Secrets).toEqual([expect.objectContaining({ SecretName: 'myaas-config', File: expect.objectContaining({ Name: 'myaas-config', Mode: 0o400 }) })]);
    expect(JSON.stringify(spec.ContainerSpec.Env)).not.toMatch(/postgres:\/\/|test-admin-token/);

    const first = await until('one replica active, the other standing by', roles, 180_000);
    const standbyHealth = await health(first.standby);
    expect(standbyHealth.active.url).toBe(`http://myaas-node${first.active}:${PORT}`);
    // The standby sends API calls to the active one.
    const refused = await api(first.standby, 'GET', '/api/v1/instances');
    expect(refused.status).toBe(503);

    const imp = await api(first.active, 'POST', '/api/v1/templates/chinook/import');
    expect(imp.status, JSON.stringify(imp.body)).toBe(202);
    await until('the import to be ready', async () => {
      const t = ((await api(first.active, 'GET', '/api/v1/templates')).body as any[]).find((x) => x.name === 'chinook');
      const v = t?.versions.find((x: any) => x.id === imp.body.version.id);
      if (v?.status === 'failed') throw new Error(`import failed: ${v.error}`);
      return v?.status === 'ready';
    }, 300_000);
    // The instance on the standby's node, where the new active will share an engine with its task
    // (other nodes paused meanwhile: they keep what runs there and take nothing new).
    const others = cluster.nodes.filter((n) => n.k !== first.standby);
    const availability = async (n: (typeof others)[number], a: 'pause' | 'active') => {
      const node = cluster.manager.docker.getNode(`myaas-${n.name}`);
      const spec = await node.inspect();
      await node.update({ version: spec.Version.Index, ...spec.Spec, Availability: a });
    };
    for (const n of others) await availability(n, 'pause');
    const made = await api(first.active, 'POST', '/api/v1/instances?wait=120', { template: 'chinook', name: 'kept' });
    for (const n of others) await availability(n, 'active');
    expect(made.body.status, made.body.error).toBe('ready');
    expect(made.body.connection.host).toBe(cluster.nodes[first.standby - 1]!.addr);
    expect(cluster.nodes.map((n) => n.addr)).toContain(made.body.connection.host);
    expect(await psql(made.body.connection.url, 'select count(*) from track')).toBe('3503');
    await psql(made.body.connection.url, 'create table marker as select 7 as n');
    const before = await instanceServices(made.body.id);
    expect(before).toHaveLength(1);

    // The active replica's container, killed on its node.
    const node = cluster.nodes[first.active - 1];
    const [container] = await node.docker.listContainers({ filters: { label: [`com.docker.swarm.service.name=${SERVICE}`] } });
    expect(container, `the controller's container on node${first.active}`).toBeTruthy();
    const killedAt = Date.now();
    await node.docker.getContainer(container!.Id).kill();
    await until('the standby to become active', async () => (await health(first.standby))?.role === 'active', 20_000);
    const handoverMs = Date.now() - killedAt;
    process.stderr.write(`[stack] standby on node${first.standby} active ${(handoverMs / 1000).toFixed(1)} s after the active's container was killed\n`);
    expect(handoverMs).toBeLessThan(15_000);

    const got = await api(first.standby, 'GET', `/api/v1/instances/${made.body.id}`);
    expect(got.body).toMatchObject({ id: made.body.id, status: 'ready', connection: { host: made.body.connection.host, port: made.body.connection.port, url: made.body.connection.url } });
    expect(await psql(got.body.connection.url, 'select n from marker')).toBe('7');
    const after = await instanceServices(made.body.id);
    expect(after.map((s) => s.ID)).toEqual([before[0]!.ID]);
    // Its task ran on through the handover: the new active, on the same node, left its container alone.
    const tasks = await cluster.manager.docker.listTasks({ filters: { service: [before[0]!.ID] } });
    expect(tasks.map((x: any) => x.Status.State)).toEqual(['running']);
    const list = (await api(first.standby, 'GET', '/api/v1/instances')).body as any[];
    expect(list.filter((i) => i.name === 'kept')).toHaveLength(1);

    // The new active's pool lacked the version the first one imported: it copies it from a node, so
    // that it can ship it on (to a node that joins later) from its own pool.
    const copied = join(cluster.nodes[first.standby - 1]!.pool, 'local', 'myaas', 'templates', 'chinook', imp.body.version.id);
    await until('the new active to copy the version into its own pool', async () => existsSync(copied), 60_000);

    // Swarm starts the killed replica again; it stands by behind the new active.
    const back = await until('the killed replica back as the standby', async () => {
      const r = await roles();
      return r && r.active === first.standby ? r : null;
    }, 120_000);
    expect((await health(back.standby)).active.url).toBe(`http://myaas-node${back.active}:${PORT}`);
    process.stderr.write(`[stack] the killed replica is back on node${back.standby}, standing by\n`);

    // The new active serves new work too.
    const next = await api(back.active, 'POST', '/api/v1/instances?wait=120', { template: 'chinook', name: 'after' });
    expect(next.body.status, next.body.error).toBe('ready');
    expect(await psql(next.body.connection.url, 'select count(*) from track')).toBe('3503');
    for (const id of [made.body.id, next.body.id]) {
      expect((await api(back.active, 'DELETE', `/api/v1/instances/${id}?wait=60`)).body.status).toBe('destroyed');
    }
    expect(await instanceServices()).toEqual([]);
  }, 900_000);
});
