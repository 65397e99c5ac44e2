// Idle suspension (MYAAS_IDLE_SUSPEND) over the fakes: an instance without clients for the idle time is
// suspended (server gone, clone kept, its port listened on), one with a client is not; a client's
// connection wakes it on the same clone, port and password and is then passed on; destroy, reset and
// expiry work on a suspended instance; start-up listens again; the comment and the status page say so.
import { describe, expect, it } from 'vitest';
import { createStatusService } from '../../controller/app/status.js';
import { createPaths } from '../../controller/domain/layout.js';
import { nextStep } from '../../controller/domain/lifecycle.js';
import { apiOwner, pullOwner } from '../../controller/domain/owner.js';
import { renderComment } from '../../controller/github/comment.js';
import { pollEveryMs } from '../../controller/jobs/suspender.js';
import { loadConfig } from '../../controller/config.js';
import { buildCore, DATA } from '../helpers/fakes/core.js';

const IDLE = 10 * 60_000;

async function readyInstance(opts: { owner?: ReturnType<typeof apiOwner> } = {}) {
  const core = buildCore({ idleSuspendMs: IDLE });
  await core.addVersion('chinook');
  const { instance } = await core.instances.create({ owner: opts.owner ?? apiOwner('alice'), template: 'chinook', ttlSeconds: 0 });
  await core.settle();
  const ready = await core.instances.get(instance.id);
  expect(ready.status).toBe('ready');
  return { core, ready };
}

/** Idle past the limit: polls (the first one only sees the instance), then lets everything settle. */
async function idleOut(core: Awaited<ReturnType<typeof readyInstance>>['core']) {
  await core.suspender.poll();
  core.clock.advance(IDLE);
  const r = await core.suspender.poll();
  await core.settle();
  return r;
}

describe('idle suspension', () => {
  it('suspends an instance without clients after the idle time: no container, clone kept, its port listened on', async () => {
    const { core, ready } = await readyInstance();
    core.clock.advance(IDLE - 1000);
    expect((await core.suspender.poll()).suspended).toBe(0);
    core.clock.advance(1000);
    expect(await core.suspender.poll()).toEqual({ checked: 1, suspended: 1 });
    await core.settle();
    const s = await core.instances.get(ready.id);
    expect(s.status).toBe('suspended');
    expect(s.containerId).toBeNull();
    expect([...core.world.containers.values()].filter((c) => c.spec.name === `myaas-${ready.id}`)).toEqual([]);
    expect(core.world.volumes.has(`${DATA}/instances/${ready.id}`)).toBe(true);
    expect(core.listeners.ports()).toEqual([ready.port]);
    expect([s.port, s.password]).toEqual([ready.port, ready.password]);
    // The reconciler leaves it be, through sweeps and the stopped server's events.
    expect(nextStep(s, { handoverPending: false, now: core.clock.now() })).toBe('nothing');
    await core.reaper.run();
    await core.settle();
    expect((await core.instances.get(ready.id)).status).toBe('suspended');
  });

  it('does not suspend while a client is connected, and counts idle time from its last client', async () => {
    const { core, ready } = await readyInstance();
    core.world.serverAt(ready.port!)!.clients = 1;
    await core.suspender.poll();
    core.clock.advance(IDLE * 3);
    expect((await core.suspender.poll()).suspended).toBe(0);
    core.world.serverAt(ready.port!)!.clients = 0;
    core.clock.advance(IDLE / 2);
    expect((await core.suspender.poll()).suspended).toBe(0);
    core.clock.advance(IDLE / 2);
    expect((await core.suspender.poll()).suspended).toBe(1);
  });

  it('holds off new connections to the port from before the last count until the listener has it', async () => {
    const { core, ready } = await readyInstance();
    expect((await idleOut(core)).suspended).toBe(1);
    const ev = core.world.events;
    const hold = ev.indexOf(`hold ${ready.port}`);
    const remove = ev.indexOf(`rm myaas-${ready.id}`);
    const listen = ev.indexOf(`listen ${ready.port}`);
    const unhold = ev.indexOf(`unhold ${ready.port}`);
    expect(hold).toBeGreaterThanOrEqual(0);
    expect([hold < remove, remove < listen, listen < unhold]).toEqual([true, true, true]);
    expect(core.listeners.held()).toEqual([]);
  });

  it('a client that connected after the idle check keeps the instance running, and nobody stays held off', async () => {
    const { core, ready } = await readyInstance();
    core.world.faults.lateClients = 1;
    expect((await idleOut(core)).suspended).toBe(0);
    const i = await core.instances.get(ready.id);
    expect([i.status, i.containerId]).toEqual(['ready', ready.containerId]);
    expect(core.world.events).toContain(`hold ${ready.port}`);
    expect(core.listeners.held()).toEqual([]);
    expect(core.listeners.ports()).toEqual([]);
    // Busy just now: the next idle period starts from there.
    core.world.serverAt(ready.port!)!.clients = 0;
    expect((await core.suspender.poll()).suspended).toBe(0);
    core.clock.advance(IDLE);
    expect((await core.suspender.poll()).suspended).toBe(1);
  });

  it('start-up lifts holds a controller left on its instances\' ports', async () => {
    const { core, ready } = await readyInstance();
    await core.listeners.hold('127.0.0.1', ready.port!);
    await core.listeners.hold('127.0.0.1', 1);
    await core.suspender.restore();
    expect(core.listeners.held()).toEqual([1]);
  });

  it('never suspends with MYAAS_IDLE_SUSPEND=0 (the default), and leaves warm-pool instances alone', async () => {
    const core = buildCore({ warmPool: 1, idleSuspendMs: IDLE });
    await core.addVersion('chinook');
    await core.warmPool.refill();
    await core.settle();
    expect((await core.store.listLive({ status: ['ready'] })).length).toBe(1);
    await idleOut(core);
    expect((await core.store.listLive({ status: ['suspended'] })).length).toBe(0);

    const off = buildCore();
    await off.addVersion('chinook');
    await off.instances.create({ owner: apiOwner('a'), template: 'chinook', ttlSeconds: 0 });
    await off.settle();
    expect(await idleOut(off)).toEqual({ checked: 0, suspended: 0 });
    expect(loadConfig({}).idleSuspendSeconds).toBe(0);
    expect(loadConfig({ MYAAS_IDLE_SUSPEND: '15m' }).idleSuspendSeconds).toBe(900);
    expect(pollEveryMs(3000)).toBe(1000);
    expect(pollEveryMs(15 * 60_000)).toBe(30_000);
  });

  it('wakes on a client connection: listener closed before the container binds, same clone, port and password, the held connections passed on', async () => {
    const { core, ready } = await readyInstance();
    await idleOut(core);
    const clonesBefore = core.world.events.filter((e) => e.startsWith('clone')).length;
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    let atStart: { listening: number[]; status: string; forwarded: boolean } | null = null;
    core.world.faults.startGate = {
      wait: async () => {
        atStart = { listening: core.listeners.ports(), status: (await core.instances.get(ready.id)).status, forwarded: first.forwardedTo !== null };
        return opened;
      },
      open: () => undefined,
    };
    const first = core.listeners.connect(ready.port!)!;
    expect(first).not.toBeNull();
    // While it wakes, later connections are held too, and do not start a second wake.
    const second = core.listeners.connect(ready.port!);
    expect(second).not.toBeNull();
    await new Promise((r) => setTimeout(r, 10));
    // At the container's start: the port is free for it, the instance not ready, the clients still held.
    expect(atStart).toEqual({ listening: [], status: 'provisioning', forwarded: false });
    // In between, nothing listens: the caveat the README names.
    expect(core.listeners.connect(ready.port!)).toBeNull();
    core.world.faults.startGate = null;
    open();
    await core.settle();
    const woke = await core.instances.get(ready.id);
    expect(woke.status).toBe('ready');
    expect([woke.port, woke.password, woke.versionId]).toEqual([ready.port, ready.password, ready.versionId]);
    expect(core.world.events.filter((e) => e.startsWith('clone')).length).toBe(clonesBefore); // no new clone
    const i = core.world.events.lastIndexOf(`unlisten ${ready.port}`);
    expect(i).toBeGreaterThan(-1);
    expect(core.world.events.indexOf(`start myaas-${ready.id}`, i)).toBeGreaterThan(i);
    for (const c of [first, second!]) {
      expect(c.forwardedTo).toEqual({ host: '127.0.0.1', port: ready.port });
      expect(c.dropped).toBe(false);
    }
    expect(core.listeners.ports()).toEqual([]);
    // The server answers with the owner's password on its port: the URL never changed.
    await core.world.engine('postgres').probe({ host: '127.0.0.1', port: ready.port!, user: 'postgres', password: ready.password, database: 'chinook' }, 0);
    // Running again, it is suspended again once idle.
    await idleOut(core);
    expect((await core.instances.get(ready.id)).status).toBe('suspended');
  });

  it('a create of the same instance wakes it (its owner is about to use it)', async () => {
    const { core, ready } = await readyInstance();
    await idleOut(core);
    const again = await core.instances.create({ owner: apiOwner('alice'), template: 'chinook', ttlSeconds: 0 });
    expect(again.created).toBe(false);
    expect(again.instance.status).toBe('provisioning');
    await core.settle();
    expect((await core.instances.get(ready.id)).status).toBe('ready');
    expect(core.listeners.ports()).toEqual([]);
  });

  it('destroy while suspended: listener closed, held connections dropped, clone gone', async () => {
    const { core, ready } = await readyInstance();
    await idleOut(core);
    await core.instances.destroy(ready.id);
    await core.settle();
    expect((await core.instances.get(ready.id)).status).toBe('destroyed');
    expect(core.listeners.ports()).toEqual([]);
    expect(core.world.volumes.has(`${DATA}/instances/${ready.id}`)).toBe(false);
    expect(core.listeners.connect(ready.port!)).toBeNull();
  });

  it('expiry destroys a suspended instance', async () => {
    const core = buildCore({ idleSuspendMs: IDLE });
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner: apiOwner('bob'), template: 'chinook', ttlSeconds: 3600 });
    await core.settle();
    await idleOut(core);
    expect((await core.instances.get(instance.id)).status).toBe('suspended');
    core.clock.advance(3600_000);
    expect((await core.reaper.run()).expired).toBe(1);
    await core.settle();
    expect((await core.instances.get(instance.id)).status).toBe('destroyed');
    expect(core.listeners.ports()).toEqual([]);
  });

  it('reset while suspended: a fresh clone on the same port and password, listener released first', async () => {
    const { core, ready } = await readyInstance();
    await idleOut(core);
    await core.instances.reset(ready.id);
    await core.settle();
    const r = await core.instances.get(ready.id);
    expect(r.status).toBe('ready');
    expect([r.port, r.password]).toEqual([ready.port, ready.password]);
    expect(r.appliedGeneration).toBe(ready.generation + 1);
    expect(core.listeners.ports()).toEqual([]);
  });

  it('after a controller restart, suspended instances listen again; still counted against the caps', async () => {
    const { core, ready } = await readyInstance();
    await idleOut(core);
    await core.suspender.close();
    expect(core.listeners.ports()).toEqual([]);
    expect(await core.suspender.restore()).toBe(1);
    expect(core.listeners.ports()).toEqual([ready.port]);
    expect(await core.store.countLive({ status: ['provisioning', 'ready', 'retrying', 'suspended', 'destroying'] })).toBe(1);
    const capped = buildCore({ idleSuspendMs: IDLE, maxInstances: 1 });
    await capped.addVersion('chinook');
    const a = await capped.instances.create({ owner: apiOwner('a'), template: 'chinook', ttlSeconds: 0 });
    await capped.settle();
    await idleOut(capped);
    expect((await capped.instances.get(a.instance.id)).status).toBe('suspended');
    const b = await capped.instances.create({ owner: apiOwner('b'), template: 'chinook', ttlSeconds: 0 });
    await capped.settle();
    expect((await capped.instances.get(b.instance.id)).status).toBe('queued');
  });

  it('the pull request comment and the status page show it suspended, with its unchanged connection', async () => {
    const { core, ready } = await readyInstance({ owner: pullOwner('octo/app', 3) });
    await idleOut(core);
    const view = await core.instances.view(await core.instances.get(ready.id));
    expect(view.connection?.port).toBe(ready.port);
    const body = renderComment({ owner: 'gh:octo/app#3', instances: [view], showPassword: true, pullRequest: true });
    expect(body).toContain('💤 suspended: wakes when a client connects');
    expect(body).toContain(ready.password);
    const status = createStatusService({
      store: core.store, templates: core.templates, runtime: core.world.runtime, storage: core.world.storage, files: core.world.files,
      paths: createPaths(DATA), clock: core.clock, warmPoolTarget: 0, log: core.log,
    });
    expect((await status.snapshot()).instances.map((i) => i.status)).toEqual(['suspended']);
    expect((await status.readings()).instances).toEqual([{ template: 'chinook', status: 'suspended', count: 1 }]);
  });
});
