// The Swarm runtime on a 3-node test bed: an instance is a one-replica service placed by node
// labels, its datadir a myaas volume cloned on the node it lands on, its port published on that
// node; Swarm reports it, and removing it removes the clone too. Also measured: create-to-answer of
// a service against `docker run` on the same daemon, and two ways to hide the difference.
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../controller/lib/clock.js';
import type { TemplateVersion } from '../../controller/domain/types.js';
import { createEngine } from '../../controller/engines/index.js';
import { createOptions, ipv4HostPort } from '../../controller/runtime/docker-map.js';
import { createSwarmRuntime, type SwarmRuntime, type SwarmSpec } from '../../controller/runtime/swarm.js';
import { clusterUp, importChinook, readyCheck, record, runs, shipEverywhere, type Cluster, type ImportedTemplates } from '../helpers/cluster.js';
import { mariadb, psql } from '../helpers/testbed.js';

const home = `cluster-swarm-${process.pid}`;

describe('Swarm runtime on a 3-node test bed', () => {
  let cluster: Cluster;
  let tpl: ImportedTemplates;
  let pg: TemplateVersion;
  let my: TemplateVersion;
  let rt: SwarmRuntime;

  beforeAll(async () => {
    cluster = await clusterUp(3);
    tpl = await importChinook(['chinook', 'chinook-my']);
    pg = tpl.versions.chinook;
    my = tpl.versions['chinook-my'];
    await shipEverywhere(tpl.pool, cluster.nodes, pg);
    await shipEverywhere(tpl.pool, cluster.nodes, my);
    rt = createSwarmRuntime({
      managerHost: cluster.manager.dockerHost,
      // The test bed's daemons are all reachable from here; a real deployment would name TLS endpoints.
      nodeHost: (n) => cluster.nodes.find((x) => x.name === n.labels['myaas.node'])?.dockerHost ?? null,
    });
  }, 600_000);

  afterAll(async () => {
    if (rt) for (const s of await rt.list({ 'myaas.home': home }).catch(() => [])) await rt.remove(s.id).catch(() => undefined);
    await tpl?.close().catch(() => undefined);
    await cluster?.down();
  }, 300_000);

  function spec(v: TemplateVersion, over: Partial<SwarmSpec> = {}): SwarmSpec {
    const engine = createEngine(v.engine, systemClock());
    const id = `i${randomBytes(5).toString('hex')}`;
    return {
      name: `myaas-${id}`,
      image: v.image,
      cmd: engine.serverCommand('instance', '/tmp'),
      user: engine.user,
      labels: { 'myaas.home': home, 'myaas.instance': id, 'myaas.template': v.template, 'myaas.version': v.id },
      binds: [],
      volumes: [{ name: `myaas-${id}`, container: engine.dataDir, driver: 'myaas', options: { template: v.template, version: v.id } }],
      publish: { containerPort: engine.port },
      memoryBytes: 512 * 1024 * 1024,
      nanoCpus: 1e9,
      reserveMemoryBytes: 64 * 1024 * 1024,
      shmBytes: 128 * 1024 * 1024,
      stopSignal: engine.stopSignal,
      ...over,
    };
  }

  it('runs a PostgreSQL instance as a service on the node its constraint names, and removes it with its clone', async () => {
    await rt.ping();
    const s = spec(pg, { constraints: ['node.labels.myaas.node==node3'] });
    const started = await rt.start(s);
    expect(started.node?.hostname).toBe('myaas-node3');
    expect(started.node?.addr).toBe('10.231.0.13');
    expect(started.hostPort).toBeGreaterThan(0);
    const pw = await readyCheck(pg, started.node!.addr, started.hostPort!);
    expect(await psql(`postgres://postgres:${pw}@${started.node!.addr}:${started.hostPort}/${pg.database}`, 'select count(*) from track')).toBe('3503');

    const svc = await cluster.manager.docker.getService(started.id).inspect();
    expect(svc.Spec.EndpointSpec).toMatchObject({ Mode: 'dnsrr', Ports: [{ PublishMode: 'host', TargetPort: 5432 }] });
    expect(svc.Spec.TaskTemplate.RestartPolicy.Condition).toBe('any');
    expect(svc.Spec.TaskTemplate.Resources).toMatchObject({ Limits: { MemoryBytes: 512 * 1024 * 1024, NanoCPUs: 1e9 }, Reservations: { MemoryBytes: 64 * 1024 * 1024 } });

    const info = await rt.inspect(started.id);
    expect(info).toMatchObject({ name: s.name, running: true, hostPort: started.hostPort, labels: s.labels });
    expect(info?.node?.hostname).toBe('myaas-node3');
    expect((await rt.list({ 'myaas.home': home })).map((x) => x.id)).toContain(started.id);
    expect(await rt.logs(started.id, 20)).toMatch(/database system is ready to accept connections/);
    expect((await rt.exec(started.id, ['id', '-u'])).stdout.trim()).toBe('999');
    expect(await rt.memoryUsage(started.id)).toBeGreaterThan(0);
    const node3 = cluster.nodes[2];
    expect((await node3.docker.getVolume(s.volumes![0].name).inspect()).Status).toMatchObject({ template: 'chinook', version: pg.id, status: 'ready' });

    expect(await rt.stop(started.id, { timeoutSec: 30 })).toBe(0);
    expect((await rt.inspect(started.id))?.running).toBe(false);
    await rt.remove(started.id);
    expect(await rt.inspect(started.id)).toBeNull();
    await expect(node3.docker.getVolume(s.volumes![0].name).inspect()).rejects.toThrow(/no such volume/);
    await expect(stat(`${node3.pool}/volumes/${s.volumes![0].name}`)).rejects.toThrow(/ENOENT/);
    await rt.remove(started.id); // missing is not an error
  });

  it('runs a MariaDB instance the same way', async () => {
    const started = await rt.start(spec(my, { constraints: ['node.labels.myaas.node==node2'] }));
    expect(started.node?.hostname).toBe('myaas-node2');
    const pw = await readyCheck(my, started.node!.addr, started.hostPort!);
    expect(await mariadb(`mysql://root:${pw}@${started.node!.addr}:${started.hostPort}/${my.database}`, 'select count(*) from Track')).toBe('3503');
    await rt.remove(started.id);
  });

  it('fails start with the volume driver\'s reason when the node lacks the template version, and leaves nothing', async () => {
    const s = spec(pg, { constraints: ['node.labels.myaas.node==node2'] });
    s.volumes![0].options.version = 'v19990101t000000-zzzz';
    await expect(rt.start(s)).rejects.toThrow(/template chinook version v19990101t000000-zzzz is not on this node/);
    expect((await rt.list({ 'myaas.instance': s.labels['myaas.instance'] })).length).toBe(0);
  });

  it('spreads instances over the nodes', async () => {
    const started = [];
    for (let i = 0; i < 6; i++) started.push(await rt.start(spec(pg)));
    const perNode = new Map<string, number>();
    for (const s of started) perNode.set(s.node!.hostname, (perNode.get(s.node!.hostname) ?? 0) + 1);
    expect([...perNode.keys()].sort()).toEqual(['myaas-node1', 'myaas-node2', 'myaas-node3']);
    for (const s of started) await rt.remove(s.id);
  });

  it('measures create-to-answer: service against docker run on the same daemon, and hiding it', async () => {
    const node1 = cluster.manager;
    const series = { run: [] as number[], service: [] as number[], scaleUp: [] as number[], warm: [] as number[] };
    const engine = createEngine(pg.engine, systemClock());
    for (let i = 0; i < runs(); i++) {
      // docker run on node1's own daemon, with the same volume mount.
      let t0 = Date.now();
      const vol = `bench-run-${process.pid}-${i}`;
      const port = `${engine.port}/tcp`;
      const base = createOptions({ name: vol, image: pg.image, cmd: engine.serverCommand('instance', '/tmp'), user: engine.user, labels: { 'myaas.home': home }, binds: [], publish: { containerPort: engine.port }, shmBytes: 128 * 1024 * 1024 }, port);
      const c = await node1.docker.createContainer({
        ...base,
        HostConfig: { ...base.HostConfig, Mounts: [{ Type: 'volume', Source: vol, Target: engine.dataDir, VolumeOptions: { NoCopy: true, Labels: {}, DriverConfig: { Name: 'myaas', Options: { template: pg.template, version: pg.id } } } }] },
      });
      await c.start();
      const hostPort = ipv4HostPort((await c.inspect()).NetworkSettings.Ports?.[port]);
      await readyCheck(pg, node1.addr, hostPort!);
      series.run.push(Date.now() - t0);
      await c.remove({ force: true });
      await node1.docker.getVolume(vol).remove();

      // A service placed on node1.
      t0 = Date.now();
      const s = await rt.start(spec(pg, { constraints: ['node.labels.myaas.node==node1'] }));
      const current = await readyCheck(pg, s.node!.addr, s.hostPort!);
      series.service.push(Date.now() - t0);

      // A service created ahead (0 replicas), scaled to one when its owner comes.
      const ahead = await rt.start(spec(pg, { constraints: ['node.labels.myaas.node==node1'], replicas: 0 }));
      t0 = Date.now();
      const up = await rt.scaleUp(ahead.id);
      await readyCheck(pg, up.node!.addr, up.hostPort!);
      series.scaleUp.push(Date.now() - t0);

      // A warm pool: the service already runs; handing it out is the password rotation and probe.
      t0 = Date.now();
      await readyCheck(pg, s.node!.addr, s.hostPort!, { current });
      series.warm.push(Date.now() - t0);
      await rt.remove(s.id);
      await rt.remove(ahead.id);
    }
    await record(
      'swarm-vs-run',
      [
        { name: 'docker run (node daemon, myaas volume)', ms: series.run },
        { name: 'swarm service create', ms: series.service },
        { name: 'pre-created service scaled 0 → 1', ms: series.scaleUp },
        { name: 'warm service: rotate + probe only', ms: series.warm },
      ],
      'one node (node1 = manager), chinook postgres, create → ready (rotate + probe)',
    );
    expect(series.service.length).toBe(runs());
  });
});
