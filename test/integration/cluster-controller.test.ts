// The controller on a 3-node test-bed Swarm (MYAAS_RUNTIME=swarm): templates of both engines imported
// once on this host and shipped to every node through the nodes' pool agents; instances (through the API and a pull request) placed
// by Swarm across the nodes with their clones cut there, reached by real clients at their node's
// address; a node's daemon stopped → its instances made again on the other nodes within 60 s of
// Swarm marking it down, the pull request's comment saying so; the node back → its stale clones gone;
// everything removed with the instances.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBtrfsShipper } from '../../controller/storage/btrfs-ship.js';
import { clusterUp, record, type Cluster, type Series } from '../helpers/cluster.js';
import { addChinookDumps, importAndWait, startTestController, wipe, type TestController } from '../helpers/controller.js';
import { startFakeGitHub, type FakeGitHub } from '../helpers/fake-github.js';
import { POOLS, mariadb, psql, requirePool, run, until } from '../helpers/testbed.js';
import { pullRequestPayload, webhookRequest } from '../helpers/webhook-fixtures.js';
import { join } from 'node:path';

const INSTANCES = Number(process.env.MYAAS_CLUSTER_INSTANCES ?? 30);
const SECRET = 'cluster-webhook-secret';
const GH_TOKEN = 'ghp_cluster_test_token';
const REPO = 'Codertocat/Hello-World';

describe('the controller on a 3-node Swarm', () => {
  let cluster: Cluster;
  let t: TestController;
  let gh: FakeGitHub;
  const created: Array<{ id: string; engine: string }> = [];

  const nodeOfAddr = (addr: string) => cluster.nodes.find((n) => n.addr === addr)?.name ?? `?${addr}`;
  const myaasVolumes = async (k: number) =>
    ((await cluster.nodes[k - 1].docker.listVolumes({ filters: { label: [`myaas.home=${t.dataDir}`] } })).Volumes ?? []).map((v) => v.Name);
  const get = async (id: string) => (await t.api('GET', `/api/v1/instances/${id}`)).body;
  const answers = async (inst: any) => {
    const url = inst.connection.url as string;
    return url.startsWith('postgres') ? psql(url, 'select count(*) from track') : mariadb(url, 'select count(*) from Track');
  };

  beforeAll(async () => {
    requirePool(POOLS.btrfs, 'btrfs');
    cluster = await clusterUp(3);
    // The manager only manages (as managers often do in production): instances go to node2 and node3,
    // so that stopping a node never stops the Swarm's control plane.
    const mgr = cluster.manager.docker.getNode('myaas-node1');
    const n = await mgr.inspect();
    await mgr.update({ version: n.Version.Index, ...n.Spec, Availability: 'drain' });
    gh = await startFakeGitHub({ tokens: [GH_TOKEN] });
    gh.seedPull(REPO, { number: 2 });
    const nodes = cluster.nodes;
    t = await startTestController({
      dataDir: join(POOLS.btrfs, `it-cluster-ctl-${process.pid}`),
      storage: 'btrfs',
      env: {
        MYAAS_RUNTIME: 'swarm',
        MYAAS_SWARM_MANAGER: cluster.manager.dockerHost,
        MYAAS_SWARM_NODE_ENGINES: nodes.map((x) => `myaas-${x.name}=${x.dockerHost}`).join(','),
        // Through the nodes' pool agents, as from another machine: this controller mounts no node's pool.
        MYAAS_SWARM_NODE_POOLS: nodes.map((x) => `myaas-${x.name}=${x.agentUrl}`).join(','),
        MYAAS_AGENT_TOKEN: cluster.agentToken,
        MYAAS_MAX_INSTANCES: String(INSTANCES + 10),
        MYAAS_MAX_INSTANCES_PER_REPO: String(INSTANCES + 10),
        MYAAS_MEMORY_LIMIT: '256m',
        MYAAS_DISK_LIMIT: '160m',
        MYAAS_RECONCILE_INTERVAL: '10',
        MYAAS_GITHUB_TOKEN: GH_TOKEN,
        MYAAS_GITHUB_API_URL: gh.url,
        MYAAS_GITHUB_WEBHOOK_SECRET: SECRET,
        MYAAS_GITHUB_REPOS: 'codertocat/hello-world=chinook',
      },
    });
    await addChinookDumps(t.dumpsDir);
  }, 900_000);

  afterAll(async () => {
    if (t) {
      for (const c of created) await t.api('DELETE', `/api/v1/instances/${c.id}?wait=60`).catch(() => undefined);
      await wipe(t).catch(() => undefined);
    }
    await gh?.close();
    await cluster?.down();
  }, 600_000);

  it('imports each template once and ships it to every node, which is labelled with it', async () => {
    for (const name of ['chinook', 'chinook-my']) {
      const v = await importAndWait(t, name);
      expect(v.status).toBe('ready');
    }
    const versions = await t.controller.store.listVersions({ status: ['ready'] });
    expect(versions.map((v) => v.template).sort()).toEqual(['chinook', 'chinook-my', 'chinook-my.schema', 'chinook.schema']);
    // The nodes got them when each import finished: wait for the last shipment, then look at every pool.
    const shipper = createBtrfsShipper();
    await until('every version on every node', async () => {
      for (const n of cluster.nodes) {
        for (const v of versions) if (!(await shipper.versionsOn(n.poolAccess, v.template)).includes(v.id)) return false;
      }
      return true;
    }, 300_000);
    // A node is labelled once the shipment's answer is back (a moment after the copy is in place).
    await until('every node labelled with every version', async () => {
      for (const n of cluster.nodes) {
        const labels = (await cluster.manager.docker.getNode(`myaas-${n.name}`).inspect()).Spec.Labels ?? {};
        if (!versions.every((v) => labels[`myaas.has.${v.id}`] === 'true')) return false;
      }
      return true;
    }, 30_000);
    // Each copy went through the node's pool agent (its log), not through a mount of its pool.
    for (const n of cluster.nodes) {
      const log = await readFile(`/var/lib/myaas-cluster/${n.name}/plugin.log`, 'utf8');
      for (const v of versions) expect(log).toContain(`"template":"${v.template}","version":"${v.id}"`);
      expect(log).toMatch(/version received, verified and sealed/);
    }
  }, 900_000);

  it(`places ${INSTANCES} instances across the nodes; real clients reach each at its node`, async () => {
    const asks = Array.from({ length: INSTANCES }, (_, k) => ({ template: k % 5 === 4 ? 'chinook-my' : 'chinook', name: `spread-${k}` }));
    const made = await Promise.all(asks.map((body) => t.api('POST', '/api/v1/instances?wait=300', body)));
    for (const r of made) {
      expect(r.body.status, JSON.stringify(r.body)).toBe('ready');
      created.push({ id: r.body.id, engine: r.body.engine });
    }
    const byNode = new Map<string, number>();
    for (const r of made) {
      const host = r.body.connection.host as string;
      byNode.set(nodeOfAddr(host), (byNode.get(nodeOfAddr(host)) ?? 0) + 1);
      expect(await answers(r.body)).toBe('3503');
    }
    process.stderr.write(`[cluster] ${INSTANCES} instances by node: ${JSON.stringify(Object.fromEntries(byNode))}\n`);
    // Spread by Swarm over the two worker nodes (the manager is drained).
    expect([...byNode.keys()].sort()).toEqual(['node2', 'node3']);
    for (const n of byNode.values()) expect(n).toBeGreaterThanOrEqual(INSTANCES / 4);
    // Each instance's clone is a volume on its node only.
    const onNode2 = await myaasVolumes(2);
    const onNode3 = await myaasVolumes(3);
    expect(onNode2.length + onNode3.length).toBe(INSTANCES);
    expect(await myaasVolumes(1)).toEqual([]);
  }, 900_000);

  it('a server that dies is started again by Swarm on its node, with its data, every time', async () => {
    const inst = await get(created[0].id); // spread-0: chinook, PostgreSQL
    const k = Number(nodeOfAddr(inst.connection.host).replace('node', ''));
    // Held on its node once placed: without that, Swarm starts the new task on the worker with fewer
    // tasks, where the volume would be a fresh clone. Four fewer on the other worker make it that one.
    const others = (await Promise.all(created.map((c) => get(c.id)))).filter((x) => nodeOfAddr(x.connection.host) !== `node${k}`).slice(0, 4);
    for (const o of others) {
      expect((await t.api('DELETE', `/api/v1/instances/${o.id}?wait=120`)).body.status).toBe('destroyed');
      created.splice(created.findIndex((c) => c.id === o.id), 1);
    }
    for (const round of [1, 2, 3]) {
      await psql(inst.connection.url, `drop table if exists marker; create table marker as select ${round} as n`);
      const [container] = await cluster.nodes[k - 1].docker.listContainers({ filters: { label: [`myaas.instance=${inst.id}`] } });
      expect(container, `round ${round}: the server's container on node${k}`).toBeTruthy();
      await cluster.nodes[k - 1].docker.getContainer(container!.Id).kill();
      const back = await until(`the instance serving again (round ${round})`, async () => {
        const x = await get(inst.id);
        if (x.status !== 'ready' || !x.connection) return null;
        if (x.connection.host !== inst.connection.host) return { x, marker: null };
        const marker = await psql(x.connection.url, 'select n from marker').catch(() => null);
        return marker === String(round) ? { x, marker } : null;
      }, 120_000);
      expect(nodeOfAddr(back.x.connection.host), `round ${round}: where Swarm started the server again`).toBe(`node${k}`);
      expect(back.x.connection.port).toBe(inst.connection.port);
      expect(back.marker).toBe(String(round));
    }
    process.stderr.write(`[cluster] killed server 3 times: each time restarted on node${k} with its data\n`);
  }, 400_000);

  it('a server on a node offers TLS with the controller\'s certificate, handed over as Swarm secrets', async () => {
    const inst = await get(created[0]!.id);
    const url = new URL(inst.connection.url);
    // verify-ca: the client checks the server's certificate against the controller's own.
    url.searchParams.set('sslmode', 'verify-ca');
    url.searchParams.set('sslrootcert', join(t.dataDir, 'tls', 'instances-ca.crt'));
    expect(await psql(url.toString(), 'select ssl from pg_stat_ssl where pid = pg_backend_pid()')).toBe('t');
    // The key reached the node as a Swarm secret, not in the service's environment or labels.
    const [service] = await cluster.manager.docker.listServices({ filters: { label: [`myaas.instance=${inst.id}`] } });
    const c = (service as any).Spec.TaskTemplate.ContainerSpec;
    expect(c.Secrets.map((x: any) => [x.File.Name, x.File.Mode])).toEqual([['/etc/myaas/tls/server.crt', 0o444], ['/etc/myaas/tls/server.key', 0o400]]);
    expect(JSON.stringify([c.Env, c.Labels, (service as any).Spec.Labels])).not.toMatch(/PRIVATE KEY/);
  });

  it('instances on a node open no connection: not to a neighbour, the node or the outside; clients reach them at the node', async () => {
    const all = await Promise.all(created.map((c) => get(c.id)));
    const host = all[0].connection.host;
    const [a, b] = all.filter((x) => x.connection.host === host && String(x.connection.url).startsWith('postgres'));
    const node = cluster.nodes.find((n) => n.addr === host)!;
    const containerOf = async (id: string) => (await node.docker.listContainers({ filters: { label: [`myaas.instance=${id}`] } }))[0]!;
    const ca = await containerOf(a.id);
    const nets = (await containerOf(b.id)).NetworkSettings.Networks as Record<string, { IPAddress: string }>;
    // Swarm tasks without a network join the node's default bridge, which the node's plugin isolates.
    expect(Object.keys(nets)).toEqual(['bridge']);
    const ipB = nets.bridge!.IPAddress;
    const outside = createServer((sock) => sock.end());
    await new Promise<void>((r) => outside.listen(0, '10.231.0.1', () => r()));
    const port = (outside.address() as { port: number }).port;
    const tcp = (target: string, p: number) => `timeout 3 bash -c 'echo > /dev/tcp/${target}/${p}' 2>/dev/null && echo open || echo closed`;
    const reach = async (container: string, target: string, p: number) => {
      const exec = await node.docker.getContainer(container).exec({ Cmd: ['bash', '-c', tcp(target, p)], AttachStdout: true, AttachStderr: true });
      const stream = await exec.start({});
      const out = await new Promise<string>((r) => {
        let text = '';
        stream.on('data', (d: Buffer) => (text += d.toString()));
        stream.on('end', () => r(text));
      });
      return /open/.test(out) ? 'open' : 'closed';
    };
    const net = await node.docker.createNetwork({ Name: `iso-probe-${process.pid}` });
    const probe = await node.docker.createContainer({ Image: 'myaas-local/postgres:15', Cmd: ['sleep', '60'], HostConfig: { NetworkMode: `iso-probe-${process.pid}` } });
    try {
      expect(await reach(ca.Id, ipB, 5432), 'instance → its neighbour on the node').toBe('closed');
      expect(await reach(ca.Id, node.addr, 5002), 'instance → its node (the pool agent)').toBe('closed');
      expect(await reach(ca.Id, '10.231.0.1', port), 'instance → outside the Swarm').toBe('closed');
      // Each target is there and listening: the neighbour from its node, the agent from here, the
      // outside from a container on another network of the same node.
      const fromNode = await run('nsenter', [`--net=/run/netns/myaas-${node.name}`, 'bash', '-c', tcp(ipB, 5432)]);
      expect(fromNode.stdout.trim(), 'the node → the neighbour').toBe('open');
      expect((await fetch(`http://${node.addr}:5002/healthz`)).status, 'here → the pool agent').toBe(200);
      await probe.start();
      expect(await reach(probe.id, '10.231.0.1', port), 'a container on another network of the node → outside').toBe('open');
      // Clients still reach both at their node.
      expect(await answers(a)).toBe('3503');
      expect(await answers(b)).toBe('3503');
    } finally {
      await probe.remove({ force: true }).catch(() => undefined);
      await net.remove().catch(() => undefined);
      outside.close();
    }
  }, 120_000);

  it('a clone on a node is held to MYAAS_DISK_LIMIT: writing past it fails there, its neighbours go on', async () => {
    const all = await Promise.all(created.slice(1).map((c) => get(c.id)));
    const [greedy, modest] = all.filter((x) => String(x.connection?.url ?? '').startsWith('postgres'));
    expect(modest, 'two PostgreSQL instances besides the first').toBeTruthy();
    const k = Number(nodeOfAddr(greedy.connection.host).replace('node', ''));
    // The node's volume driver made the clone with the limit.
    const [container] = await cluster.nodes[k - 1]!.docker.listContainers({ filters: { label: [`myaas.instance=${greedy.id}`] } });
    const volume = container!.Mounts.find((m) => m.Type === 'volume')!;
    const inspected = await cluster.nodes[k - 1]!.docker.getVolume(volume.Name!).inspect();
    expect((inspected as any).Status).toMatchObject({ limitBytes: 160 * 2 ** 20, status: 'ready' });
    // About 400 MB, over twice the limit: the statement fails, or the server stops on a WAL write it
    // cannot make (its backend, or another process of it that PANICs, restarting them all).
    const write = psql(greedy.connection.url, "create table big as select g, repeat(md5(g::text), 30) as pad from generate_series(1, 400000) g");
    await expect(write).rejects.toThrow(/Disk quota exceeded|No space left on device|could not extend file|Check free disk space|server closed the connection unexpectedly|crash of another server process/);
    await psql(modest.connection.url, 'create table notes as select g from generate_series(1, 50000) g');
    expect(await psql(modest.connection.url, 'select count(*) from notes')).toBe('50000');
    // The greedy one goes, so that the tests after this one meet only healthy servers.
    expect((await t.api('DELETE', `/api/v1/instances/${greedy.id}?wait=120`)).body.status).toBe('destroyed');
    created.splice(created.findIndex((c) => c.id === greedy.id), 1);
  }, 300_000);

  it('a pull request gets an instance; its comment names the node', async () => {
    const res = await fetch(`${t.url}/api/v1/webhooks/github`, webhookRequest('pull_request', pullRequestPayload('opened', { number: 2 }), { secret: SECRET }));
    expect(res.status).toBe(200);
    const pr = await until('the pull request\'s instance ready', async () => {
      const list = (await t.api('GET', '/api/v1/instances?limit=1000')).body as any[];
      const i = list.find((x) => x.ownerKind !== 'api' && x.template === 'chinook');
      return i?.status === 'ready' ? get(i.id) : null;
    }, 180_000);
    created.push({ id: pr.id, engine: pr.engine });
    expect(await answers(pr)).toBe('3503');
    const comment = await until('the comment with the node\'s address', async () => gh.comments(REPO, 2).find((c) => c.body.includes(pr.connection.host)), 60_000);
    expect(comment.body).toContain(String(pr.connection.port));
  }, 300_000);

  it('a lost node: its instances are made again on the other node within 60 s of Swarm marking it down; the comment says the data was reset', async () => {
    const all = await Promise.all(created.map((c) => get(c.id)));
    const pr = all.find((i) => i.ownerKind !== 'api');
    // The node to lose: the pull request's.
    const lost = nodeOfAddr(pr.connection.host);
    const k = Number(lost.replace('node', ''));
    const moving = all.filter((i) => nodeOfAddr(i.connection.host) === lost);
    const staying = all.filter((i) => nodeOfAddr(i.connection.host) !== lost);
    expect(moving.length).toBeGreaterThan(0);
    const t0 = Date.now();
    await cluster.script('daemon', 'stop', String(k));
    const down = await until(`Swarm marks ${lost} down`, async () => {
      const n = await cluster.manager.docker.getNode(`myaas-${lost}`).inspect();
      return n.Status.State === 'down' ? Date.now() : null;
    }, 120_000);
    const again = await until(`the ${moving.length} instances of ${lost} ready on another node`, async () => {
      const now = await Promise.all(moving.map((i) => get(i.id)));
      return now.every((i) => i.status === 'ready' && i.connection && nodeOfAddr(i.connection.host) !== lost) ? now : null;
    }, 180_000);
    const readyAt = Date.now();
    process.stderr.write(`[cluster] node ${lost} stopped: marked down after ${((down - t0) / 1000).toFixed(1)} s; its ${moving.length} instances ready elsewhere ${((readyAt - down) / 1000).toFixed(1)} s after that\n`);
    expect(readyAt - down).toBeLessThan(60_000);
    for (const i of again) {
      expect(i.id).toBe(moving.find((m) => m.id === i.id).id);
      expect(i.lastFault).toMatch(/was lost .* data was reset/);
      expect(await answers(i)).toBe('3503');
    }
    // The instances on the other node were not touched.
    for (const i of staying) {
      const now = await get(i.id);
      expect(now.connection.host).toBe(i.connection.host);
      expect(now.connection.port).toBe(i.connection.port);
    }
    const prNow = again.find((i) => i.id === pr.id);
    await until('the comment saying the data was reset, with the new node', async () =>
      gh.comments(REPO, 2).find((c) => c.body.includes('data was reset') && c.body.includes(prNow.connection.host)), 60_000);

    // The node comes back: Swarm shuts its old tasks down and the controller's sweep removes its clones.
    await cluster.script('daemon', 'start', String(k));
    await until(`${lost} ready again`, async () => (await cluster.manager.docker.getNode(`myaas-${lost}`).inspect()).Status.State === 'ready', 120_000);
    await until(`${lost} holds no clone or container of ours`, async () => {
      const containers = await cluster.nodes[k - 1].docker.listContainers({ all: true, filters: { label: [`myaas.home=${t.dataDir}`] } });
      return containers.length === 0 && (await myaasVolumes(k)).length === 0;
    }, 180_000);
  }, 600_000);

  it('measures clone-to-ready through the API: the cluster next to a single-host controller on this machine (printed, not asserted)', async () => {
    const runs = Number(process.env.MYAAS_CLUSTER_BENCH_RUNS ?? 3);
    const single = await startTestController({ dataDir: join(POOLS.btrfs, `it-cluster-single-${process.pid}`), storage: 'btrfs' });
    try {
      await addChinookDumps(single.dumpsDir);
      expect((await importAndWait(single, 'chinook')).status).toBe('ready');
      const series: Series[] = [{ name: 'single host: POST /instances?wait → ready', ms: [] }, { name: 'Swarm (3 nodes): POST /instances?wait → ready', ms: [] }];
      for (let k = 0; k < runs; k++) {
        // Alternating, so both see the same machine.
        for (const [c, s] of [[single, series[0]], [t, series[1]]] as const) {
          const t0 = performance.now();
          const r = await c.api('POST', '/api/v1/instances?wait=120', { template: 'chinook', name: `bench-${k}` });
          s.ms.push(performance.now() - t0);
          expect(r.body.status, JSON.stringify(r.body)).toBe('ready');
          expect((await c.api('DELETE', `/api/v1/instances/${r.body.id}?wait=60`)).body.status).toBe('destroyed');
        }
      }
      await record('controller-cluster-vs-single', series, `Chinook on PostgreSQL, ${runs} runs alternating; the cluster's instances are Swarm services with a myaas volume`);
    } finally {
      await wipe(single);
    }
  }, 600_000);

  it('destroying the instances removes their services and clones from every node', async () => {
    await Promise.all(created.splice(0).map(async (c) => expect((await t.api('DELETE', `/api/v1/instances/${c.id}?wait=120`)).body.status).toBe('destroyed')));
    expect(await cluster.manager.docker.listServices({ filters: { label: [`myaas.home=${t.dataDir}`] } })).toEqual([]);
    for (const k of [1, 2, 3]) expect(await myaasVolumes(k)).toEqual([]);
    // The TLS files' Swarm secrets (two per certificate, see the TLS test) leave with the last service using them.
    expect(await cluster.manager.docker.listSecrets({ filters: { label: ['myaas.role=secret-file'] } })).toEqual([]);
  }, 600_000);

  it('a new version replaces the old one on every node once no instance uses it', async () => {
    const old = (await t.controller.store.listVersions({ template: 'chinook-my', status: ['ready'] }))[0]!;
    const v = await importAndWait(t, 'chinook-my');
    expect(v.status).toBe('ready');
    const shipper = createBtrfsShipper();
    // Each node is labelled once its pass over it ends (after the copy is verified): wait for both.
    await until('the new version on every node and in its labels, the old one gone from both', async () => {
      for (const n of cluster.nodes) {
        const have = await shipper.versionsOn(n.poolAccess, 'chinook-my');
        if (!have.includes(v.id) || have.includes(old.id)) return false;
        const labels = (await cluster.manager.docker.getNode(`myaas-${n.name}`).inspect()).Spec.Labels ?? {};
        if (labels[`myaas.has.${v.id}`] !== 'true' || labels[`myaas.has.${old.id}`] !== undefined) return false;
      }
      return true;
    }, 120_000);
  }, 600_000);
});
