// `npx tsx bench/quota-cost.ts [rounds]`: what per-instance disk limits cost clone-to-ready (and
// destroy) on btrfs. Three private pools side by side, one per quota mode (off, simple quotas, full
// qgroups), each with a controller and the same ~150 MB template; every round creates an instance on
// each (in a rotating order, so that the machine's load falls on all three alike), writes 10 MB into
// it, and destroys it. Prints medians and 90th percentiles; writes nothing.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadConfig } from '../controller/config.js';
import { createLogger } from '../controller/log.js';
import { buildController, listen, type Controller } from '../controller/main.js';
import { createCommandRunner } from '../controller/host/command.js';
import { createIptablesFirewall } from '../controller/host/firewall.js';
import { createDockerNetworks } from '../controller/runtime/networks.js';

const run = promisify(execFile);
const TOKEN = 'bench-token';
const MODES = ['off', 'squota', 'qgroup'] as const;
type Mode = (typeof MODES)[number];

interface Side {
  mode: Mode;
  root: string;
  dir: string;
  url: string;
  controller: Controller;
  close(): Promise<void>;
  create: number[];
  ready: number[];
  destroy: number[];
}

async function api(url: string, method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetch(`${url}${path}`, {
    method, headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: body ? JSON.stringify(body) : undefined,
  });
  const b = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(b)}`);
  return b;
}

async function side(mode: Mode, dump: string): Promise<Side> {
  const root = await mkdtemp(join(tmpdir(), `myaas-qcost-${mode}-`));
  const dir = join(root, 'mnt');
  await mkdir(dir);
  await run('truncate', ['-s', '6G', join(root, 'pool.img')]);
  await run('mkfs.btrfs', ['-q', join(root, 'pool.img')]);
  await run('mount', ['-o', 'loop', join(root, 'pool.img'), dir]);
  if (mode === 'qgroup') await run('btrfs', ['quota', 'enable', dir]);
  const dataDir = join(dir, 'data');
  await mkdir(join(dataDir, 'dumps', 'postgres'), { recursive: true });
  await writeFile(join(dataDir, 'dumps', 'postgres', 'bench.sql'), dump);
  const config = loadConfig({
    MYAAS_DATA_DIR: dataDir, MYAAS_HOST: '127.0.0.1', MYAAS_API_TOKENS: TOKEN, MYAAS_PUBLIC_HOST: '127.0.0.1', MYAAS_PUBLISH_IP: '127.0.0.1',
    MYAAS_POSTGRES_IMAGE: 'myaas-local/postgres:15', MYAAS_MARIADB_IMAGE: 'myaas-local/mariadb:10.11', MYAAS_RECONCILE_INTERVAL: '3600',
    MYAAS_DISK_LIMIT: mode === 'off' ? '0' : '2g', MYAAS_DOCKER_NETWORK: 'myaas-qcost',
  } as NodeJS.ProcessEnv);
  const controller = await buildController(config, createLogger('silent'));
  await controller.start();
  const server = listen(controller.app, config, 0);
  await new Promise<void>((r) => server.once('listening', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { version } = await api(url, 'POST', '/api/v1/templates/bench/import');
  for (;;) {
    const v = (await api(url, 'GET', '/api/v1/templates'))[0].versions.find((x: any) => x.id === version.id);
    if (v.status === 'ready') break;
    if (v.status === 'failed') throw new Error(v.error);
    await new Promise((r) => setTimeout(r, 500));
  }
  return {
    mode, root, dir, url, controller, create: [], ready: [], destroy: [],
    async close() {
      server.close();
      await controller.close();
      for (const c of await controller.runtime.list({ 'myaas.home': dataDir })) await controller.runtime.remove(c.id);
      await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
      await rm(root, { recursive: true, force: true });
    },
  };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length - 1) * p))];

async function main() {
  const rounds = Number(process.argv[2] ?? 15);
  const dump = 'create table pad as select g, repeat(md5(g::text), 4) as v from generate_series(1, 1000000) g;\n';
  const sides: Side[] = [];
  try {
    for (const m of MODES) sides.push(await side(m, dump));
    for (let i = 0; i < rounds; i++) {
      for (let k = 0; k < sides.length; k++) {
        const s = sides[(i + k) % sides.length];
        const t0 = performance.now();
        const inst = await api(s.url, 'POST', '/api/v1/instances?wait=120', { template: 'bench', name: `r${i}` });
        const t1 = performance.now();
        if (inst.status !== 'ready') throw new Error(`${s.mode}: ${inst.error}`);
        s.create.push(t1 - t0);
        const u = inst.connection.url;
        await run('psql', [u, '-XAtqc', 'create table w as select g, repeat(md5(g::text), 2) from generate_series(1, 100000) g']);
        const t2 = performance.now();
        const d = await api(s.url, 'DELETE', `/api/v1/instances/${inst.id}?wait=120`);
        if (d.status !== 'destroyed') throw new Error(`${s.mode}: destroy left ${d.status}`);
        s.destroy.push(performance.now() - t2);
      }
    }
    console.log(`rounds: ${rounds}; template ~150 MB; each instance writes ~10 MB before its destroy`);
    console.log('mode     create-to-ready median / p90     destroy median / p90');
    for (const s of sides) {
      const f = (x: number) => `${Math.round(x)} ms`;
      console.log(`${s.mode.padEnd(8)} ${f(pct(s.create, 0.5)).padStart(8)} / ${f(pct(s.create, 0.9)).padEnd(18)} ${f(pct(s.destroy, 0.5)).padStart(8)} / ${f(pct(s.destroy, 0.9))}`);
    }
  } finally {
    for (const s of sides) await s.close().catch((e) => console.error(`cleanup ${s.mode}: ${e}`));
    const net = await createDockerNetworks({}).ensureIsolated('myaas-qcost').catch(() => null);
    if (net) await createIptablesFirewall(createCommandRunner()).release(net.bridge);
    await createDockerNetworks({}).remove('myaas-qcost').catch(() => {});
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
