// The reconciler over fakes of its ports: the order of its steps, what it leaves behind, and races
// (destroy during provisioning, wakes that coalesce, resets, vanished containers).
import { describe, expect, it } from 'vitest';
import { AppError } from '../../controller/domain/errors.js';
import { apiOwner } from '../../controller/domain/owner.js';
import { buildCore, DATA } from '../helpers/fakes/core.js';
import { gate } from '../helpers/fakes/world.js';

const owner = apiOwner('alice');

describe('reconciler', () => {
  it('clones, starts, gives the owner its password and probes, in that order, then marks ready', async () => {
    const core = buildCore();
    const v = await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner, template: 'chinook', name: 'alice' });
    expect(instance.status).toBe('provisioning');
    await core.settle();
    const i = await core.instances.get(instance.id);
    expect(i).toMatchObject({ status: 'ready', versionId: v.id, appliedGeneration: 0, error: null });
    expect(core.world.events).toEqual([
      `clone ${DATA}/templates/chinook/${v.id} -> ${DATA}/instances/${i.id}`,
      `start myaas-${i.id}`,
      `password ${i.port}`,
    ]);
    // The server now takes the instance's own password, not the template's admin secret.
    expect(core.world.volumes.get(`${DATA}/instances/${i.id}`)?.password).toBe(i.password);
    expect(core.world.serverAt(i.port!)?.spec.labels).toMatchObject({ 'myaas.instance': i.id, 'myaas.version': v.id, 'myaas.role': 'instance' });
    expect(core.timings).toHaveLength(1);
    const view = await core.instances.view(i);
    expect(view.connection?.url).toBe(`postgres://postgres:${i.password}@db.test:${i.port}/chinook`);
  });

  it('coalesces wakes: many at once give one provisioning', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await Promise.all([1, 2, 3, 4, 5].map(() => core.reconciler.wake(instance.id)));
    await core.settle();
    expect(core.world.events.filter((e) => e.startsWith('clone'))).toHaveLength(1);
    expect((await core.instances.get(instance.id)).status).toBe('ready');
  });

  it('a destroy while the container starts ends destroyed, with nothing left behind', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const held = gate();
    core.world.faults.startGate = held;
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await new Promise((r) => setImmediate(r));
    const asked = await core.instances.destroy(instance.id);
    expect(asked.desired).toBe('absent');
    held.open();
    core.world.faults.startGate = null;
    await core.settle();
    const i = await core.instances.get(instance.id);
    expect(i.status).toBe('destroyed');
    expect(core.world.containers.size).toBe(0);
    expect([...core.world.volumes.keys()].filter((p) => p.includes('/instances/'))).toEqual([]);
    // never reported ready on the way
    expect(core.store.writes.filter(([id, p]) => id === i.id && p.status === 'ready')).toEqual([]);
  });

  it('waits for a running import, then provisions when it ends', async () => {
    const core = buildCore();
    core.world.dumps.put({ template: 'shop', engine: 'postgres', format: 'sql', file: 'shop.sql', afterFile: null, sizeBytes: 10, fingerprint: '10:1' });
    const held = gate();
    const exec = core.world.faults.exec;
    core.world.faults.exec = async (argv) => {
      if (argv[0] === 'load') await held.wait();
      if (argv[0] === 'list-databases') return { exitCode: 0, stdout: 'load_shop\n' };
      if (argv[0] === 'count-tables') return { exitCode: 0, stdout: '4' };
      return exec(argv);
    };
    const { instance } = await core.instances.create({ owner, template: 'shop' }); // first use starts the import
    await core.reconciler.wake(instance.id);
    expect((await core.instances.get(instance.id)).status).toBe('provisioning');
    held.open();
    await core.settle();
    const i = await core.instances.get(instance.id);
    expect(i.status, i.error ?? '').toBe('ready');
  });

  it('fails with what to do when the template has no version and none is coming', async () => {
    const core = buildCore();
    core.world.dumps.put({ template: 'gone', engine: 'postgres', format: 'sql', file: 'gone.sql', afterFile: null, sizeBytes: 1, fingerprint: '1:1' });
    core.world.faults.exec = (argv) => (argv[0] === 'load' ? { exitCode: 3, stderr: 'ERROR: syntax error at line 1' } : { exitCode: 0, stdout: '' });
    const { instance } = await core.instances.create({ owner, template: 'gone' });
    await core.settle();
    const i = await core.instances.get(instance.id);
    expect(i.status).toBe('failed');
    expect(i.error).toBe(
      'template "gone" has no ready version: its last import failed (an admin sees why: myaas templates); fix the dump and run `myaas import gone`, then reset this instance',
    );
    // A missing template is not retried on a timer: another attempt cannot help until an import does.
    expect(i.attempts).toBe(1);
    expect(i.retryAt).toBeNull();
  });

  it('a reset rebuilds from a fresh clone of latest with the same port and password', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    const before = await core.instances.get(instance.id);
    const v2 = await core.addVersion('chinook');
    core.world.events.length = 0;
    await core.instances.reset(instance.id);
    await core.settle();
    const after = await core.instances.get(instance.id);
    expect(after).toMatchObject({ status: 'ready', versionId: v2.id, port: before.port, password: before.password, appliedGeneration: 1 });
    expect(core.world.events[0]).toBe(`rm myaas-${instance.id}`);
    expect(core.world.events).toContain(`clone ${DATA}/templates/chinook/${v2.id} -> ${DATA}/instances/${instance.id}`);
  });

  it('starts a vanished container again on the same clone, keeping its data and password', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    const i = await core.instances.get(instance.id);
    core.clock.advance(120_000); // it ran a while: not a crash loop
    core.world.containers.clear();
    core.world.events.length = 0;
    await core.reconciler.wake(i.id);
    const again = await core.instances.get(i.id);
    expect(again.status).toBe('ready');
    expect(core.world.events.some((e) => e.startsWith('clone'))).toBe(false);
    expect(core.world.volumes.get(`${DATA}/instances/${i.id}`)?.password).toBe(i.password);
    expect(core.log.text()).toContain('the server of a ready instance stopped');
    expect(again.lastFault).toMatch(/^its container was removed \(2026-01-01 00:02 UTC\); started again on its data$/);
  });

  it('a failed start with no retries left marks the instance failed with Docker’s reason and removes its clone', async () => {
    const core = buildCore({ retryAttempts: 0 });
    await core.addVersion('chinook');
    core.world.faults.startFailures.push(new AppError('internal', 'container could not start: no such image'));
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    const i = await core.instances.get(instance.id);
    expect(i).toMatchObject({ status: 'failed', error: 'container could not start: no such image' });
    expect(core.world.volumes.has(`${DATA}/instances/${i.id}`)).toBe(false);
  });

  it('moves to another port of the range when a pooled port is taken outside myaas', async () => {
    const core = buildCore({ portRange: { from: 20000, to: 20010 } });
    await core.addVersion('chinook');
    core.world.faults.startFailures.push(new AppError('conflict', 'host port 20000 is already in use on this machine'));
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    const i = await core.instances.get(instance.id);
    expect(i).toMatchObject({ status: 'ready', port: 20001 });
  });

  it('gives concurrent instances distinct ports of the range', async () => {
    const core = buildCore({ portRange: { from: 20000, to: 20010 } });
    await core.addVersion('chinook');
    const made = await Promise.all(['a', 'b', 'c', 'd'].map((n) => core.instances.create({ owner: apiOwner(n), template: 'chinook' })));
    await core.settle();
    const ports = await Promise.all(made.map(async (m) => (await core.instances.get(m.instance.id)).port));
    expect(new Set(ports).size).toBe(4);
    expect(ports.every((p) => p !== null && p >= 20000 && p <= 20010)).toBe(true);
  });

  it('announces every status change of an instance', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    await core.instances.destroy(instance.id);
    await core.settle();
    const statuses = core.store.writes.filter(([id]) => id === instance.id).map(([, p]) => p.status).filter(Boolean);
    expect(statuses).toEqual(['provisioning', 'ready', 'destroying', 'destroyed']);
    expect(core.changes.filter((id) => id === instance.id).length).toBeGreaterThanOrEqual(4);
  });

  it('wakeAll never rejects: a store gone while the controller stops is logged, not an unhandled rejection', async () => {
    const core = buildCore();
    core.store.listLive = async () => {
      throw new Error('PGlite is closed');
    };
    await expect(core.reconciler.wakeAll({ template: 'chinook', retryFailed: true })).resolves.toBeUndefined();
  });
});
