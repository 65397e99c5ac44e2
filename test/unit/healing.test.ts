// Instances heal: failed attempts are retried with growing pauses, crashes are noticed from the
// engine's events, crash loops back off, an OOM kill is told to the owner, asking again retries now.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../controller/domain/errors.js';
import { retryDelayMs } from '../../controller/domain/lifecycle.js';
import { apiOwner } from '../../controller/domain/owner.js';
import { buildCore } from '../helpers/fakes/core.js';

const owner = apiOwner('alice');
const fail = () => new AppError('docker_unavailable', 'the Docker engine at unix:///var/run/docker.sock does not answer (ECONNREFUSED)');

/** A ready instance of chinook, and its running container. */
async function readyInstance() {
  const core = buildCore();
  await core.addVersion('chinook');
  const { instance } = await core.instances.create({ owner, template: 'chinook' });
  await core.settle();
  const before = await core.instances.get(instance.id);
  return { core, instance, before, c: core.world.containers.get(before.containerId!)! };
}

describe('self-healing instances', () => {
  it('retries a failed provisioning after growing pauses, saying why and which attempt, then succeeds', async () => {
    const core = buildCore({ retryAttempts: 3 });
    await core.addVersion('chinook');
    core.world.faults.startFailures.push(fail(), fail());
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    let i = await core.instances.get(instance.id);
    expect(i).toMatchObject({ status: 'retrying', attempts: 1, error: fail().message });
    expect(i.retryAt?.getTime()).toBe(core.clock.now() + retryDelayMs(1));
    // not due yet: a wake changes nothing
    await core.reconciler.wake(i.id);
    expect((await core.instances.get(i.id)).attempts).toBe(1);
    core.clock.advance(retryDelayMs(1));
    await core.reconciler.wake(i.id);
    i = await core.instances.get(i.id);
    expect(i).toMatchObject({ status: 'retrying', attempts: 2 });
    expect(i.retryAt?.getTime()).toBe(core.clock.now() + retryDelayMs(2));
    core.clock.advance(retryDelayMs(2));
    await core.reconciler.wake(i.id);
    i = await core.instances.get(i.id);
    expect(i).toMatchObject({ status: 'ready', attempts: 0, error: null, retryAt: null });
    expect(retryDelayMs(2)).toBe(2 * retryDelayMs(1));
  });

  it('gives up after the limit, then an owner asking again (create) retries at once', async () => {
    const core = buildCore({ retryAttempts: 1 });
    await core.addVersion('chinook');
    core.world.faults.startFailures.push(fail(), fail());
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    core.clock.advance(retryDelayMs(1));
    await core.reconciler.wake(instance.id);
    const failed = await core.instances.get(instance.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toBe(`${fail().message} (after 2 attempts; reset it or ask again to retry)`);
    const again = await core.instances.create({ owner, template: 'chinook' });
    expect(again.created).toBe(false);
    await core.settle();
    expect(await core.instances.get(instance.id)).toMatchObject({ status: 'ready', attempts: 0 });
  });

  it('a server that dies is noticed from the engine’s event and started again on its data at once', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    const before = await core.instances.get(instance.id);
    core.clock.advance(600_000);
    core.world.kill(before.containerId!, { exitCode: 137 });
    await core.settle();
    const after = await core.instances.get(instance.id);
    expect(after).toMatchObject({ status: 'ready', port: before.port, password: before.password });
    expect(after.containerId).not.toBe(before.containerId);
    expect(after.lastFault).toBe('the server stopped (exit code 137) at 2026-01-01 00:10 UTC; started again on its data');
  });

  it('an out-of-memory kill is reported as such', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    core.clock.advance(600_000);
    core.world.kill((await core.instances.get(instance.id)).containerId!, { oom: true });
    await core.settle();
    const after = await core.instances.get(instance.id);
    expect(after.status).toBe('ready');
    expect(after.lastFault).toMatch(/^killed for using more than its memory limit of 1024 MiB \(MYAAS_MEMORY_LIMIT\) at /);
    expect(core.log.text()).not.toContain('server log line');
  });

  it('a server that carries on after one of its processes is killed for memory is left running, the owner told', async () => {
    const { core, instance, before, c } = await readyInstance();
    core.world.emit({ kind: 'oom', containerId: c.id, labels: { ...c.spec.labels } });
    await core.settle();
    const after = await core.instances.get(instance.id);
    expect(after).toMatchObject({ status: 'ready', containerId: before.containerId });
    expect(after.lastFault).toMatch(/the server recovered$/);
  });

  it('a server that stops answering after one of its processes is killed for memory is started again on its data', async () => {
    const { core, instance, before, c } = await readyInstance();
    // Its container runs on, but the server never answers again.
    core.world.faults.deadServers.add(c.id);
    core.world.emit({ kind: 'oom', containerId: c.id, labels: { ...c.spec.labels } });
    await core.settle();
    const after = await core.instances.get(instance.id);
    expect(after).toMatchObject({ status: 'ready', port: before.port, password: before.password });
    expect(after.containerId).not.toBe(before.containerId);
    expect(core.world.containers.has(before.containerId!)).toBe(false);
    expect(after.lastFault).toMatch(/^a query was killed for using more than the memory limit of 1024 MiB \(MYAAS_MEMORY_LIMIT\) at .*; the server did not answer within 30 s after it and was started again on its data$/);
  });

  it('a server that keeps dying soon after starting backs off, and fails after the limit', async () => {
    const core = buildCore({ retryAttempts: 2 });
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    const statuses: string[] = [];
    for (let round = 0; round < 4; round++) {
      const i = await core.instances.get(instance.id);
      if (i.status === 'ready') core.world.kill(i.containerId!, { exitCode: 1 });
      await core.settle();
      const after = await core.instances.get(instance.id);
      statuses.push(`${after.status}:${after.attempts}`);
      if (after.retryAt) core.clock.advance(after.retryAt.getTime() - core.clock.now());
      await core.reconciler.wake(instance.id);
    }
    expect(statuses).toEqual(['retrying:1', 'retrying:2', 'failed:3', 'failed:3']);
    const i = await core.instances.get(instance.id);
    expect(i.error).toMatch(/^the server keeps stopping: the server stopped \(exit code 1\)/);
  });

  it('instances that failed for want of a template get it when an import makes one ready', async () => {
    const core = buildCore();
    core.world.dumps.put({ template: 'shop', engine: 'postgres', format: 'sql', file: 'shop.sql', afterFile: null, sizeBytes: 1, fingerprint: '1:1' });
    core.world.faults.exec = (argv) => (argv[0] === 'load' ? { exitCode: 1, stderr: 'ERROR: boom' } : { exitCode: 0, stdout: '' });
    const { instance } = await core.instances.create({ owner, template: 'shop' });
    await core.settle();
    expect((await core.instances.get(instance.id)).status).toBe('failed');
    // The same dump is not imported again by asking for instances…
    await core.instances.create({ owner: apiOwner('bob'), template: 'shop' });
    await core.settle();
    expect((await core.store.listVersions({ template: 'shop' })).length).toBe(1);
    // …but a fixed one, imported on request, provisions everyone who waited.
    core.world.faults.exec = (argv) =>
      argv[0] === 'list-databases' ? { exitCode: 0, stdout: 'load_shop\n' } : argv[0] === 'count-tables' ? { exitCode: 0, stdout: '2' } : { exitCode: 0, stdout: '' };
    await (await core.importer.start('shop')).done;
    await core.settle();
    expect((await core.instances.get(instance.id)).status).toBe('ready');
    expect((await core.instances.list()).every((i) => i.status === 'ready')).toBe(true);
  });

  it('a cancelled import leaves nothing and never touches latest; its instances wait for the next one', async () => {
    const core = buildCore();
    const old = await core.addVersion('shop');
    core.world.dumps.put({ template: 'shop', engine: 'postgres', format: 'sql', file: 'shop.sql', afterFile: null, sizeBytes: 1, fingerprint: '1:2' });
    let release!: () => void;
    const hung = new Promise<void>((r) => (release = r));
    core.world.faults.exec = async (argv) => {
      if (argv[0] === 'load') await hung; // like `select pg_sleep(100000)`
      return { exitCode: 0, stdout: '' };
    };
    const { version, done } = await core.importer.start('shop');
    await new Promise((r) => setImmediate(r));
    const cancelled = core.templates.cancelImport('shop');
    release(); // the fake's exec returns once its container is gone, as Docker's does
    const v = await cancelled;
    expect(v).toMatchObject({ id: version.id, status: 'failed', error: 'cancelled by request (myaas import --cancel)' });
    expect(await done).toMatchObject({ status: 'failed' });
    expect((await core.store.latestReady('shop'))?.id).toBe(old.id);
    expect(core.world.containers.size).toBe(0);
    expect([...core.world.volumes.keys()].some((p) => p.includes(version.id))).toBe(false);
    await expect(core.templates.cancelImport('shop')).rejects.toThrow('no import of template "shop" is running');
  });
});
