// The warm pool over fakes: refill, the claim as one state write, the reconciler's handover, a lost
// handover, concurrent claims, and retiring clones of an older version.
import { describe, expect, it } from 'vitest';
import { apiOwner } from '../../controller/domain/owner.js';
import { buildCore, DATA } from '../helpers/fakes/core.js';

async function warmCore(size = 2) {
  const core = buildCore({ warmPool: size });
  const v = await core.addVersion('chinook');
  await core.warmPool.refill();
  await core.settle();
  return { core, v };
}

const warm = async (core: Awaited<ReturnType<typeof warmCore>>['core']) => core.store.listLive({ ownerPrefix: 'pool:' });

describe('warm pool', () => {
  it('fills to its size with ready clones of latest, owned by the pool and not listed as anyone’s', async () => {
    const { core, v } = await warmCore(2);
    const pool = await warm(core);
    expect(pool).toHaveLength(2);
    expect(pool.every((w) => w.status === 'ready' && w.versionId === v.id && /^pool:i/.test(w.owner))).toBe(true);
    expect(await core.instances.list()).toEqual([]);
  });

  it('a create claims a warm instance: new owner, name and password, handed over by the reconciler without a new clone', async () => {
    const { core } = await warmCore(1);
    const [w] = await warm(core);
    core.world.events.length = 0;
    const { instance, created } = await core.instances.create({ owner: apiOwner('alice'), template: 'chinook', name: 'mine' });
    expect(created).toBe(true);
    expect(instance).toMatchObject({ id: w.id, owner: 'api:alice', name: 'mine', status: 'ready', port: w.port });
    expect(instance.password).not.toBe(w.password);
    // the warm server took the new owner's password over the session kept open while it was warm
    expect(core.world.volumes.get(`${DATA}/instances/${w.id}`)?.password).toBe(instance.password);
    expect(core.world.events).toEqual([`password ${w.port}`]);
    expect(core.log.text()).toContain('handed out a warm instance');
  });

  it('two creates at once never get the same warm instance', async () => {
    const { core } = await warmCore(2);
    const [a, b] = await Promise.all([
      core.instances.create({ owner: apiOwner('a'), template: 'chinook' }),
      core.instances.create({ owner: apiOwner('b'), template: 'chinook' }),
    ]);
    expect(a.instance.id).not.toBe(b.instance.id);
    expect([a.instance.status, b.instance.status]).toEqual(['ready', 'ready']);
  });

  it('a claim whose handover was lost (a restart) is rebuilt from a fresh clone, never served with the old password', async () => {
    const { core } = await warmCore(1);
    const [w] = await warm(core);
    const held = core.world.faults;
    // Lose the handover: the reconciler is not woken until the book is cleared, as after a restart.
    held.startGate = null;
    const claimed = await core.warmPool.claim({ owner: apiOwner('z'), template: 'chinook', name: 'z', expiresAt: null });
    expect(claimed?.status).toBe('provisioning');
    core.warmPool.close(); // drops the book's handovers and the sessions
    core.world.events.length = 0;
    await core.reconciler.wake(w.id);
    await core.settle();
    const after = await core.instances.get(w.id);
    expect(after.status).toBe('ready');
    expect(core.world.events[0]).toBe(`rm myaas-${w.id}`);
    expect(core.world.events.some((e) => e.startsWith('clone'))).toBe(true);
    expect(core.world.volumes.get(`${DATA}/instances/${w.id}`)?.password).toBe(after.password);
  });

  it('retires warm clones of an older version once a new one is latest, and refills with the new one', async () => {
    const { core } = await warmCore(1);
    const [old] = await warm(core);
    const v2 = await core.addVersion('chinook');
    await core.warmPool.refill();
    await core.settle();
    expect((await core.instances.get(old.id)).status).toBe('destroyed');
    const pool = await warm(core);
    expect(pool.map((w) => [w.versionId, w.status])).toEqual([[v2.id, 'ready']]);
  });

  it('without warm clones a create provisions as usual', async () => {
    const core = buildCore({ warmPool: 0 });
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner: apiOwner('a'), template: 'chinook' });
    expect(instance.status).toBe('provisioning');
    expect(await warm(core)).toEqual([]);
  });
});
