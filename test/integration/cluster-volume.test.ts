// The myaas volume plugin on a real test-bed node: `docker volume create -d myaas` makes a
// copy-on-write clone of a template version on the node's pool, a real database server runs on it,
// the plugin's state survives its restart, and the cost of a volume mount against today's bind mount
// of a clone is measured on the same daemon.
import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../controller/lib/clock.js';
import type { TemplateVersion } from '../../controller/domain/types.js';
import { createEngine } from '../../controller/engines/index.js';
import { createOptions, ipv4HostPort } from '../../controller/runtime/docker-map.js';
import { createBtrfsStorage } from '../../controller/storage/btrfs.js';
import { createCommandRunner } from '../../controller/host/command.js';
import { clusterUp, importChinook, readyCheck, record, runs, shipEverywhere, type Cluster, type ClusterNode, type ImportedTemplates } from '../helpers/cluster.js';
import { psql } from '../helpers/testbed.js';

const LABEL = 'myaas.test';
const label = `cluster-volume-${process.pid}`;

describe('volume plugin on a test-bed node', () => {
  let cluster: Cluster;
  let tpl: ImportedTemplates;
  let v: TemplateVersion;
  let node: ClusterNode;
  const storage = createBtrfsStorage(createCommandRunner());

  beforeAll(async () => {
    cluster = await clusterUp(3);
    node = cluster.nodes[1];
    tpl = await importChinook(['chinook']);
    v = tpl.versions.chinook;
    await shipEverywhere(tpl.pool, [node], v);
  }, 600_000);

  afterAll(async () => {
    // Containers first (they hold the volumes), then volumes, then the bed itself.
    if (node) {
      for (const c of await node.docker.listContainers({ all: true, filters: { label: [`${LABEL}=${label}`] } }).catch(() => [])) {
        await node.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      }
      for (const vol of (await node.docker.listVolumes({ filters: { driver: ['myaas'] } }).catch(() => ({ Volumes: [] }))).Volumes ?? []) {
        await node.docker.getVolume(vol.Name).remove().catch(() => undefined);
      }
    }
    await tpl?.close().catch(() => undefined);
    await cluster?.down();
  }, 300_000);

  const opts = (version = v.id, template = 'chinook') => ({ Driver: 'myaas', DriverOpts: { template, version } });

  it('creates, reports, lists and removes a clone of a template version', async () => {
    const name = `vol-${randomBytes(3).toString('hex')}`;
    await node.docker.createVolume({ Name: name, ...opts() });
    const info = await node.docker.getVolume(name).inspect();
    expect(info.Driver).toBe('myaas');
    expect(info.Mountpoint).toBe(`${node.pool}/volumes/${name}/data`);
    expect(info.Status).toMatchObject({ template: 'chinook', version: v.id, status: 'ready' });
    // The clone holds the template's files (PG_VERSION is in every postgres datadir) and is writable.
    expect((await stat(`${info.Mountpoint}/PG_VERSION`)).isFile()).toBe(true);
    const listed = (await node.docker.listVolumes({ filters: { driver: ['myaas'] } })).Volumes.map((x) => x.Name);
    expect(listed).toContain(name);
    await node.docker.getVolume(name).remove();
    await expect(stat(`${node.pool}/volumes/${name}`)).rejects.toThrow(/ENOENT/);
    // The template version is untouched.
    expect((await stat(`${node.pool}/templates/chinook/${v.id}/PG_VERSION`)).isFile()).toBe(true);
  });

  it('refuses an unknown template or version, and options it does not take, with clear messages', async () => {
    await expect(node.docker.createVolume({ Name: 'nope-1', ...opts('v19990101t000000-zzzz') })).rejects.toThrow(
      /template chinook version v19990101t000000-zzzz is not on this node/,
    );
    await expect(node.docker.createVolume({ Name: 'nope-2', ...opts(v.id, 'no-such-template') })).rejects.toThrow(/template no-such-template version .* is not on this node/);
    await expect(node.docker.createVolume({ Name: 'nope-3', Driver: 'myaas', DriverOpts: { template: 'chinook' } })).rejects.toThrow(/needs -o template=<name> and -o version=<id>/);
    await expect(node.docker.createVolume({ Name: 'nope-4', Driver: 'myaas', DriverOpts: { template: 'chinook', version: v.id, mode: 'rw' } })).rejects.toThrow(/unknown option\(s\) mode/);
    await expect(node.docker.createVolume({ Name: 'nope-6', Driver: 'myaas', DriverOpts: { template: 'chinook', version: v.id, size: 'lots' } })).rejects.toThrow(/-o size="lots" is not a size of at least 16 MiB/);
    await expect(node.docker.createVolume({ Name: 'nope-5', ...opts('../../etc') })).rejects.toThrow(/invalid template version/);
    const names = (await node.docker.listVolumes()).Volumes?.map((x) => x.Name) ?? [];
    expect(names.filter((n) => n.startsWith('nope-'))).toEqual([]);
  });

  it('serves a real PostgreSQL server from a volume; its writes stay in its own clone', async () => {
    const a = await startOnVolume(node.docker, v, `pg-a-${randomBytes(3).toString('hex')}`);
    const pwA = await readyCheck(v, node.addr, a.port);
    const url = (port: number, pw: string) => `postgres://postgres:${pw}@${node.addr}:${port}/${v.database}`;
    expect(await psql(url(a.port, pwA), 'select count(*) from track')).toBe('3503');
    await psql(url(a.port, pwA), 'delete from playlist_track; delete from playlist');
    const b = await startOnVolume(node.docker, v, `pg-b-${randomBytes(3).toString('hex')}`);
    const pwB = await readyCheck(v, node.addr, b.port);
    expect(await psql(url(b.port, pwB), 'select count(*) from playlist')).toBe('18');
    expect(await psql(url(a.port, pwA), 'select count(*) from playlist')).toBe('0');
  });

  it('keeps what it knows across a plugin restart', async () => {
    const name = `keep-${randomBytes(3).toString('hex')}`;
    await node.docker.createVolume({ Name: name, ...opts() });
    await cluster.script('plugin', 'stop', String(node.k));
    await cluster.script('plugin', 'start', String(node.k));
    const info = await node.docker.getVolume(name).inspect();
    expect(info.Status).toMatchObject({ template: 'chinook', version: v.id, status: 'ready' });
    expect((await node.docker.listVolumes({ filters: { driver: ['myaas'] } })).Volumes.map((x) => x.Name)).toContain(name);
    // And a server still starts on it after the restart.
    const c = await startOnVolume(node.docker, v, name);
    expect(await psql(`postgres://postgres:${await readyCheck(v, node.addr, c.port)}@${node.addr}:${c.port}/${v.database}`, 'select count(*) from album')).toBe('347');
  });

  it('measures time to ready: volume mount against a bind-mounted clone on the same daemon', async () => {
    const bind: number[] = [];
    const volume: number[] = [];
    for (let i = 0; i < runs(); i++) {
      // Alternate, so that drift on a shared machine hits both alike.
      const clone = `${node.pool}/instances/bench-${process.pid}-${i}`;
      await mkdir(`${node.pool}/instances`, { recursive: true, mode: 0o700 });
      let t0 = Date.now();
      await storage.clone(`${node.pool}/templates/chinook/${v.id}`, clone);
      const b = await start(node.docker, v, `bench-bind-${i}`, { Binds: [`${clone}:${createEngine(v.engine, systemClock()).dataDir}`] });
      await readyCheck(v, node.addr, b.port);
      bind.push(Date.now() - t0);
      t0 = Date.now();
      const c = await startOnVolume(node.docker, v, `bench-vol-${process.pid}-${i}`);
      await readyCheck(v, node.addr, c.port);
      volume.push(Date.now() - t0);
      await b.remove();
      await c.remove();
      await node.docker.getVolume(`bench-vol-${process.pid}-${i}`).remove();
      await storage.remove(clone);
    }
    await rm(`${node.pool}/instances`, { recursive: true, force: true });
    await record('volume-vs-bind', [{ name: 'bind mount of a btrfs clone (today)', ms: bind }, { name: 'myaas volume (plugin clones)', ms: volume }], `single daemon (${node.name}), chinook postgres, clone → ready (rotate + probe)`);
    expect(bind.length).toBe(runs());
    expect(volume.length).toBe(runs());
  });
});

async function start(docker: Docker, v: TemplateVersion, name: string, hostConfig: Docker.HostConfig) {
  const engine = createEngine(v.engine, systemClock());
  const port = `${engine.port}/tcp`;
  const base = createOptions(
    { name, image: v.image, cmd: engine.serverCommand('instance', '/tmp'), user: engine.user, labels: { [LABEL]: label }, binds: [], publish: { containerPort: engine.port }, shmBytes: 128 * 1024 * 1024 },
    port,
  );
  const c = await docker.createContainer({ ...base, HostConfig: { ...base.HostConfig, ...hostConfig, Binds: hostConfig.Binds ?? [] } });
  await c.start();
  const info = await c.inspect();
  const p = ipv4HostPort(info.NetworkSettings.Ports?.[port]);
  if (!p) throw new Error(`container ${name} published no port: ${JSON.stringify(info.State)}`);
  return { port: p, remove: () => c.remove({ force: true }) };
}

/** A server whose datadir is a myaas volume, made by the node's plugin when Docker first needs it. */
function startOnVolume(docker: Docker, v: TemplateVersion, volume: string) {
  return start(docker, v, `srv-${volume}`, {
    Mounts: [{ Type: 'volume', Source: volume, Target: createEngine(v.engine, systemClock()).dataDir, VolumeOptions: { NoCopy: true, Labels: {}, DriverConfig: { Name: 'myaas', Options: { template: v.template, version: v.id } } } }],
  });
}
