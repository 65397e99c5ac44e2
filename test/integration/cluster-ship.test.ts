// Template shipping between real btrfs pools: this host's pool (where the controller imports) and the
// pools of a 3-node test bed. Full and incremental sends, verification, refusal of incomplete sources
// and streams (nothing half-done is ever a version), and shipping time against template size.
import { spawn } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../controller/lib/clock.js';
import type { TemplateVersion } from '../../controller/domain/types.js';
import { createEngine } from '../../controller/engines/index.js';
import { createDockerRuntime } from '../../controller/runtime/docker.js';
import { createBtrfsStorage } from '../../controller/storage/btrfs.js';
import { createBtrfsShipper, createLocalPool, type PoolAccess } from '../../controller/storage/btrfs-ship.js';
import { createCommandRunner } from '../../controller/host/command.js';
import { clusterUp, importChinook, readyCheck, record, runs, type Cluster, type ImportedTemplates } from '../helpers/cluster.js';
import { createPoolAgentClient } from '../../controller/storage/pool-agent-client.js';
import { IMAGES, POOLS, psql } from '../helpers/testbed.js';

// pgbench scale of the generated template: 10 ≈ 160 MB (the default, for CI), 100 ≈ 1.5 GB.
const SCALE = Number(process.env.MYAAS_CLUSTER_SHIP_SCALE ?? 10);
const home = `cluster-ship-${process.pid}`;

describe('template shipping between btrfs pools', () => {
  let cluster: Cluster;
  let tpl: ImportedTemplates;
  let chinook: TemplateVersion;
  const runner = createCommandRunner();
  const storage = createBtrfsStorage(runner);
  const shipper = createBtrfsShipper();
  const rt = createDockerRuntime({});
  // A second import host pool of our own for the generated pgbench versions.
  const genRoot = join(POOLS.btrfs, `it-ship-gen-${process.pid}`);
  let gen: PoolAccess;
  const pgbench = { v1: 'v20260101t000000-aaaa', v2: 'v20260102t000000-bbbb' };
  const sizes: Record<string, number> = {};

  beforeAll(async () => {
    cluster = await clusterUp(3);
    tpl = await importChinook(['chinook']);
    chinook = tpl.versions.chinook;
    gen = createLocalPool('generator', genRoot, runner);
    await makePgbenchVersions();
  }, 900_000);

  afterAll(async () => {
    for (const c of await rt.list({ 'myaas.home': home }).catch(() => [])) await rt.remove(c.id).catch(() => undefined);
    for (const v of await readdir(join(genRoot, 'templates', 'pgbench')).catch(() => [])) await storage.remove(join(genRoot, 'templates', 'pgbench', v)).catch(() => undefined);
    await rm(genRoot, { recursive: true, force: true });
    await tpl?.close().catch(() => undefined);
    await cluster?.down();
  }, 300_000);

  /** pgbench data at SCALE as a sealed version, and a second version that is a snapshot of it with the first 1% of rows changed. */
  async function makePgbenchVersions() {
    const engine = createEngine('postgres', systemClock());
    const dir = join(genRoot, 'templates', 'pgbench');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const serve = async (datadir: string, name: string, sql: string[][]) => {
      const { id } = await rt.start({ name, image: IMAGES.postgres, cmd: engine.serverCommand('import', '/tmp'), user: engine.user, labels: { 'myaas.home': home }, binds: [{ host: datadir, container: engine.dataDir }], shmBytes: 256 * 1024 * 1024 });
      const exec = async (cmd: string[]) => {
        const r = await rt.exec(id, cmd, { user: engine.user });
        if (r.exitCode !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr}`);
      };
      const deadline = Date.now() + 60_000;
      while ((await rt.exec(id, engine.pingCommand(), { user: engine.user })).exitCode !== 0) {
        if (Date.now() > deadline) throw new Error('generator server did not start');
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const cmd of sql) await exec(cmd);
      expect(await rt.stop(id, { signal: engine.stopSignal, timeoutSec: 120 })).toBe(0);
      await rt.remove(id);
    };
    // v1 starts as a clone of the imported Chinook datadir: initialised, configured, with its admin secret.
    const v1 = join(dir, pgbench.v1);
    await storage.clone(join(tpl.controller.dataDir, 'templates', 'chinook', chinook.id), v1);
    const psqlIn = (q: string) => ['psql', '-h', '/tmp', '-U', 'postgres', '-d', 'pgbench', '-v', 'ON_ERROR_STOP=1', '-c', q];
    await serve(v1, `${home}-gen1`, [
      ['createdb', '-h', '/tmp', '-U', 'postgres', 'pgbench'],
      ['pgbench', '-i', '-q', '-s', String(SCALE), '-I', 'dtGp', '-h', '/tmp', '-U', 'postgres', 'pgbench'],
    ]);
    await storage.seal(v1);
    const v2 = join(dir, pgbench.v2);
    await storage.clone(v1, v2);
    await serve(v2, `${home}-gen2`, [psqlIn(`UPDATE pgbench_accounts SET abalance = abalance + 7 WHERE aid <= ${SCALE * 1000}`), psqlIn('CHECKPOINT')]);
    await storage.seal(v2);
    sizes.pgbench = await storage.size(v1);
  }

  const pgbenchVersion = (id: string): TemplateVersion => ({
    ...chinook, id, template: 'pgbench', database: 'pgbench',
  });

  let chinookMs = 0;
  it('ships a sealed version to every node, verified; shipping again sends nothing', async () => {
    sizes.chinook = await storage.size(join(tpl.controller.dataDir, 'templates', 'chinook', chinook.id));
    for (const n of cluster.nodes) {
      const r = await shipper.ship({ template: 'chinook', version: chinook.id, from: tpl.pool, to: n.poolAccess });
      chinookMs ||= r.ms;
      expect(r).toMatchObject({ parent: null, alreadyThere: false });
      expect(r.streamBytes).toBeGreaterThan(1_000_000);
      expect(await shipper.versionsOn(n.poolAccess, 'chinook')).toEqual([chinook.id]);
      expect(await readdir(join(n.pool, 'staging'))).toEqual([]);
      // Sealed there: read-only, with the source's UUID as its received UUID.
      const show = (await runner.run('btrfs', ['subvolume', 'show', join(n.pool, 'templates', 'chinook', chinook.id)])).stdout;
      expect(show).toMatch(/Flags:\s+readonly/);
    }
    const again = await shipper.ship({ template: 'chinook', version: chinook.id, from: tpl.pool, to: cluster.nodes[0].poolAccess });
    expect(again).toMatchObject({ alreadyThere: true, streamBytes: 0 });
  });

  it('ships the next version incrementally against the previous one, and it serves the changed data', async () => {
    const node = cluster.nodes[1];
    const full = await shipper.ship({ template: 'pgbench', version: pgbench.v1, from: gen, to: node.poolAccess });
    const inc = await shipper.ship({ template: 'pgbench', version: pgbench.v2, from: gen, to: node.poolAccess, parents: [pgbench.v1] });
    expect(full.parent).toBeNull();
    expect(inc.parent).toBe(pgbench.v1);
    expect(inc.streamBytes).toBeLessThan(full.streamBytes / 2);
    // A server on a clone of the shipped v2 has v2's data.
    const engine = createEngine('postgres', systemClock());
    const clone = join(node.pool, 'instances', `ship-${process.pid}`);
    await mkdir(join(node.pool, 'instances'), { recursive: true });
    await storage.clone(join(node.pool, 'templates', 'pgbench', pgbench.v2), clone);
    const d = createDockerRuntime({ dockerHost: node.dockerHost });
    const { id, hostPort } = await d.start({ name: `${home}-check`, image: IMAGES.postgres, cmd: engine.serverCommand('instance', '/tmp'), user: engine.user, labels: { 'myaas.home': home }, binds: [{ host: clone, container: engine.dataDir }], publish: { containerPort: 5432 } });
    try {
      const pw = await readyCheck(pgbenchVersion(pgbench.v2), node.addr, hostPort!);
      expect(await psql(`postgres://postgres:${pw}@${node.addr}:${hostPort}/pgbench`, 'select sum(abalance) from pgbench_accounts')).toBe(String(7 * SCALE * 1000));
    } finally {
      await d.remove(id);
      await storage.remove(clone);
    }
    await record(
      `ship-scale${SCALE}`,
      [
        { name: `chinook full (${(sizes.chinook / 1e6).toFixed(0)} MB datadir)`, ms: [chinookMs] },
        { name: `pgbench scale ${SCALE} full (${(sizes.pgbench / 1e6).toFixed(0)} MB, stream ${(full.streamBytes / 1e6).toFixed(0)} MB)`, ms: [full.ms] },
        { name: `pgbench next version incremental (stream ${(inc.streamBytes / 1e6).toFixed(1)} MB)`, ms: [inc.ms] },
      ],
      'btrfs send | receive between two pools on this machine, verified and sealed; time per version',
    );
  });

  it('ships through a node\'s pool agent (as to another machine) about as fast as into a pool mounted here', async () => {
    // pgbench v1 into node3 alternately through its mount and through its agent; measured, not asserted.
    const node = cluster.nodes[2];
    const agent = createPoolAgentClient({ name: node.name, url: node.agentUrl, token: cluster.agentToken });
    const mounted: number[] = [];
    const viaAgent: number[] = [];
    for (let i = 0; i < runs(); i++) {
      for (const [to, into] of [[node.poolAccess, mounted], [agent, viaAgent]] as const) {
        await node.poolAccess.remove('pgbench', pgbench.v1);
        const r = await shipper.ship({ template: 'pgbench', version: pgbench.v1, from: gen, to });
        expect(r).toMatchObject({ alreadyThere: false, parent: null });
        into.push(r.ms);
      }
    }
    expect(await agent.versions('pgbench')).toEqual([pgbench.v1]);
    expect(await agent.manifest('pgbench', pgbench.v1)).toBe(await gen.manifest('pgbench', pgbench.v1));
    await node.poolAccess.remove('pgbench', pgbench.v1);
    await record(
      `ship-agent-scale${SCALE}`,
      [
        { name: `into a pool mounted here (${(sizes.pgbench / 1e6).toFixed(0)} MB)`, ms: mounted },
        { name: 'through the node\'s pool agent (HTTP)', ms: viaAgent },
      ],
      'pgbench full version into a node: its pool mounted on this machine vs through its pool agent; verified and sealed',
    );
  });

  it('sends in full when the target\'s copy of the parent did not come from this source', async () => {
    const node = cluster.nodes[2];
    // A version of the same name made on the node itself: not a valid parent for the stream.
    const fake = join(node.pool, 'templates', 'pgbench', pgbench.v1);
    await mkdir(join(node.pool, 'templates', 'pgbench'), { recursive: true });
    await storage.createVolume(fake);
    await storage.seal(fake);
    const r = await shipper.ship({ template: 'pgbench', version: pgbench.v2, from: gen, to: node.poolAccess, parents: [pgbench.v1] });
    expect(r.parent).toBeNull();
    expect(await shipper.versionsOn(node.poolAccess, 'pgbench')).toEqual([pgbench.v1, pgbench.v2]);
  });

  it('refuses an unsealed source, and a broken stream leaves no version and no staging behind', async () => {
    const node = cluster.nodes[0];
    const open = join(genRoot, 'templates', 'pgbench', 'v20260103t000000-open');
    await storage.clone(join(genRoot, 'templates', 'pgbench', pgbench.v1), open);
    await expect(shipper.ship({ template: 'pgbench', version: 'v20260103t000000-open', from: gen, to: node.poolAccess })).rejects.toThrow(/not sealed/);
    await storage.remove(open);

    // The send side delivers only the first 256 KiB of a real stream.
    const streamFile = join(genRoot, 'chinook.stream');
    await runner.run('btrfs', ['send', '-q', '-f', streamFile, join(tpl.controller.dataDir, 'templates', 'chinook', chinook.id)]);
    const truncated = createLocalPool('import-host', tpl.controller.dataDir, runner, {
      spawn: (file, args) => spawn(...((file === 'btrfs' && args[0] === 'send' ? ['head', ['-c', String(256 * 1024), streamFile]] : [file, args]) as [string, string[]]), { stdio: ['pipe', 'pipe', 'pipe'] }),
    });
    await storage.remove(join(node.pool, 'templates', 'chinook', chinook.id));
    await expect(shipper.ship({ template: 'chinook', version: chinook.id, from: truncated, to: node.poolAccess })).rejects.toThrow(/shipping template chinook/);
    expect(await shipper.versionsOn(node.poolAccess, 'chinook')).toEqual([]);
    expect(await readdir(join(node.pool, 'templates', 'chinook'))).toEqual([]);
    expect(await readdir(join(node.pool, 'staging'))).toEqual([]);
    await rm(streamFile, { force: true });
  });
});
