// Surviving the host, on a private Docker engine and btrfs pool (scripts/private-docker.sh) so that
// nobody else's engine or pool is restarted or unmounted: after (a) the Docker engine restarts, (b) the
// pool is unmounted and mounted again, (c) the whole host "reboots" (controller killed, every container
// and the engine killed, pools unmounted, then scripts/setup-host.sh and the controller started), every
// instance serves again on its own URL (same port, same password) with a row written before, no
// template is lost, and how long each took is printed.
import { readdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importAll, openBed, type Bed } from '../../bench/chaos/lib/bed.js';
import { findLeaks, query } from '../../bench/chaos/lib/checks.js';
import { spawnController, type ControllerProc } from '../../bench/chaos/lib/controller.js';
import { createRuntime } from '../../controller/runtime/index.js';
import { requireDocker } from '../helpers/testbed.js';

const NAME = `survive-${process.pid % 100000}`;
const BTRFS = 0x9123683e;
let bed: Bed;
let ctl: ControllerProc;
const made: Array<{ id: string; url: string; template: string; row: string }> = [];
let templatesBefore: Array<{ name: string; latest: string; ready: string[] }> = [];

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Polls until every instance answers its own URL with its own row and reads ready with the same URL. */
async function allBack(timeoutMs = 180_000): Promise<number> {
  const t0 = Date.now();
  const waiting = new Set(made.map((m) => m.id));
  while (waiting.size) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`not back after ${secs(timeoutMs)}: ${[...waiting].join(', ')}\n${ctl.tail()}`);
    for (const m of made.filter((x) => waiting.has(x.id))) {
      const row = await query(m.url, 'select v from kept').catch(() => null);
      if (row !== m.row) continue;
      const r = await ctl.api('GET', `/api/v1/instances/${m.id}`).catch(() => null);
      if (r?.body?.status === 'ready' && r.body.connection?.url === m.url) waiting.delete(m.id);
    }
    if (waiting.size) await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - t0;
}

async function templates() {
  const ts = (await ctl.api<any[]>('GET', '/api/v1/templates')).body;
  return ts.map((t) => ({ name: t.name, latest: t.latest, ready: t.versions.filter((v: any) => v.status === 'ready').map((v: any) => v.id) }));
}

describe('surviving the host (private Docker engine and pool)', () => {
  beforeAll(async () => {
    await requireDocker();
    bed = await openBed({ name: NAME, workDir: join(process.cwd(), 'bench', 'work'), env: { MYAAS_RECONCILE_INTERVAL: '3600' }, ports: '22000-22099' });
    ctl = await bed.start();
    await importAll(ctl, ['chinook', 'chinook-my']);
    for (const [name, template] of [['keep-a', 'chinook'], ['keep-b', 'chinook'], ['keep-c', 'chinook-my']]) {
      const r = await ctl.api('POST', '/api/v1/instances?wait=120', { template, name });
      expect(r.body.status, JSON.stringify(r.body)).toBe('ready');
      const row = `written before, in ${name}`;
      await query(r.body.connection.url, 'create table kept (v varchar(100))');
      await query(r.body.connection.url, `insert into kept values ('${row}')`);
      made.push({ id: r.body.id, url: r.body.connection.url, template, row });
    }
    templatesBefore = await templates();
  }, 600_000);

  afterAll(async () => {
    await bed?.close();
  }, 300_000);

  it('(a) the Docker engine restarts: every instance back on its URL with its data', async () => {
    const t0 = Date.now();
    await bed.engine.restart();
    const down = Date.now() - t0;
    const back = await allBack();
    console.log(`measured: Docker engine restart took ${secs(down)}; all ${made.length} instances serving again ${secs(back)} after the engine was back`);
    expect(await templates()).toEqual(templatesBefore);
  }, 400_000);

  it('(b) the pool is unmounted and mounted again: the controller refuses to start without it, then everything is back', async () => {
    expect(await ctl.stop()).toBe(0);
    // The servers hold their clones open: a pool is unmounted with them stopped, as its owner would.
    const runtime = createRuntime('docker', { dockerHost: bed.engine.dockerHost });
    for (const c of await runtime.list({ 'myaas.home': bed.dataDir })) await runtime.stop(c.id);
    await bed.engine.unmount();
    expect((await statfs(bed.engine.poolDir)).type).not.toBe(BTRFS);
    // Started before the pool is back (a boot that mounts late): it must refuse, not start afresh.
    const early = spawnController({ dataDir: bed.dataDir, port: 1, dockerHost: bed.engine.dockerHost, logFile: bed.logFile });
    await expect(early.ready(60_000)).rejects.toThrow(/exited at start[\s\S]*MYAAS_DATA_DIR/);
    expect(await readdir(bed.dataDir).catch(() => [])).not.toContain('state');
    const t0 = Date.now();
    await bed.engine.mount();
    const mounted = Date.now() - t0;
    const t1 = Date.now();
    ctl = await bed.start();
    const started = Date.now() - t1;
    const back = await allBack();
    console.log(`measured: pool mounted again in ${secs(mounted)}; controller answering after ${secs(started)}; all instances serving ${secs(started + back)} after its start`);
    expect(await templates()).toEqual(templatesBefore);
  }, 400_000);

  it('(c) the host "reboots": everything killed, setup-host.sh and the controller started: every instance and template back', async () => {
    await ctl.kill9();
    await bed.engine.powerOff();
    expect((await statfs(bed.engine.poolDir)).type).not.toBe(BTRFS);
    const t0 = Date.now();
    await bed.engine.boot();
    const booted = Date.now() - t0;
    ctl = await bed.start();
    const started = Date.now() - t0 - booted;
    const back = await allBack();
    console.log(
      `measured: reboot: setup-host.sh (pools, engine) ${secs(booted)}, controller answering ${secs(started)} later, ` +
        `all instances serving ${secs(booted + started + back)} after the boot began`,
    );
    expect(await templates()).toEqual(templatesBefore);
    // Latest of every template still loads, and nothing is left over from before the reboot.
    for (const t of templatesBefore) {
      const r = await ctl.api('POST', '/api/v1/instances?wait=120', { template: t.name, name: `after-${t.name.replace(':', '-')}` });
      expect(r.body.status, JSON.stringify(r.body)).toBe('ready');
      // The schema-only variants (`<template>:schema`) come back too, with their tables and no rows.
      const base = t.name.replace(/:schema$/, '');
      expect(await query(r.body.connection.url, base === 'chinook-my' ? 'select count(*) from Artist' : 'select count(*) from artist')).toBe(base === t.name ? '275' : '0');
      expect((await ctl.api('DELETE', `/api/v1/instances/${r.body.id}?wait=60`)).body.status).toBe('destroyed');
    }
    const leaks = await findLeaks({ ctl, dataDir: bed.dataDir, dockerHost: bed.engine.dockerHost, enginePid: await bed.enginePid() });
    expect(leaks.leaks).toEqual([]);
    expect(leaks.counts.instances).toBe(made.length);
  }, 600_000);
});
