// The instance service over fakes: get-or-create under races, names, lifetimes, waiting, destroying.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../controller/domain/errors.js';
import { apiOwner, pullOwner, runOwner } from '../../controller/domain/owner.js';
import { buildCore } from '../helpers/fakes/core.js';
import { gate } from '../helpers/fakes/world.js';

describe('instance service', () => {
  it('is get-or-create on (owner, template), also for two creates at the same moment', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const owner = pullOwner('Octo/App', 12);
    const [a, b] = await Promise.all([
      core.instances.create({ owner, template: 'chinook' }),
      core.instances.create({ owner, template: 'chinook' }),
    ]);
    expect(a.instance.id).toBe(b.instance.id);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect(a.instance).toMatchObject({ owner: 'gh:octo/app#12', name: 'octo-app-pr-12-chinook', expiresAt: null });
    const again = await core.instances.create({ owner, template: 'chinook' });
    expect(again).toMatchObject({ created: false, instance: { id: a.instance.id } });
    await core.settle();
    expect(core.world.events.filter((e) => e.startsWith('clone'))).toHaveLength(1);
  });

  it('refuses a name another live instance has, saying what to do', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    await core.instances.create({ owner: apiOwner('alice'), template: 'chinook', name: 'shared' });
    const e = await core.instances.create({ owner: apiOwner('bob'), template: 'chinook', name: 'shared' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe('conflict');
    expect((e as AppError).message).toBe('instance name "shared" is taken: choose another --name or remove it (myaas rm)');
  });

  it('gives instances of people and runs the default lifetime and pull requests none, from the clock', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const now = core.clock.now();
    const run = await core.instances.create({ owner: runOwner('octo/app', '77', '1'), template: 'chinook' });
    const pr = await core.instances.create({ owner: pullOwner('octo/app', 3), template: 'chinook' });
    const mine = await core.instances.create({ owner: apiOwner('alice'), template: 'chinook', ttlSeconds: 60 });
    expect(run.instance.expiresAt?.getTime()).toBe(now + 3600_000);
    expect(pr.instance.expiresAt).toBeNull();
    expect(mine.instance.expiresAt?.getTime()).toBe(now + 60_000);
    expect(run.instance.name).toBe('octo-app-run-77-1-chinook');
  });

  it('names an unknown template and where its dump would go; imports a dump on first use', async () => {
    const core = buildCore();
    const e = await core.instances.create({ owner: apiOwner('a'), template: 'nope' }).catch((x: unknown) => x);
    expect((e as AppError).code).toBe('not_found');
    expect((e as AppError).message).toContain('put a dump at /dumps/<postgres|mariadb>/nope.sql');
    core.world.dumps.put({ template: 'fresh', engine: 'mariadb', format: 'sql', file: 'fresh.sql', afterFile: null, sizeBytes: 5, fingerprint: '5:1' });
    const made = await core.instances.create({ owner: apiOwner('a'), template: 'fresh' });
    expect(made.instance.engine).toBe('mariadb');
    expect(core.importer.runningTemplates()).toEqual(['fresh']);
    await core.settle();
  });

  it('waitSettled resolves as soon as the reconciler reports ready, and returns as it is on timeout', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const held = gate();
    core.world.faults.rotateGate = held;
    const { instance } = await core.instances.create({ owner: apiOwner('a'), template: 'chinook' });
    const early = await core.instances.waitSettled(instance.id, 0);
    expect(early.status).toBe('provisioning');
    const waiting = core.instances.waitSettled(instance.id, 60_000);
    held.open();
    expect((await waiting).status).toBe('ready');
  });

  it('destroy is idempotent and lists no longer show the instance', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner: apiOwner('a'), template: 'chinook' });
    await core.settle();
    await core.instances.destroy(instance.id);
    await core.instances.destroy(instance.id);
    await core.settle();
    expect((await core.instances.get(instance.id)).status).toBe('destroyed');
    expect(await core.instances.list()).toEqual([]);
    expect(core.world.events.filter((e) => e.startsWith('remove'))).toHaveLength(1);
    const reset = await core.instances.reset(instance.id).catch((x: unknown) => x);
    expect((reset as AppError).message).toBe(`instance ${instance.id} is destroyed: create a new one`);
  });

  it('a full port range is refused at create with 503 and what to do', async () => {
    const core = buildCore({ portRange: { from: 30000, to: 30000 } });
    await core.addVersion('chinook');
    await core.instances.create({ owner: apiOwner('a'), template: 'chinook' });
    const e = await core.instances.create({ owner: apiOwner('b'), template: 'chinook' }).catch((x: unknown) => x);
    expect((e as AppError).status).toBe(503);
    expect((e as AppError).message).toMatch(/30000-30000 are in use.*widen the range/);
  });

  it('destroys and resets all of one owner’s instances, and no one else’s', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    await core.addVersion('sakila');
    const pr = pullOwner('octo/app', 5);
    await core.instances.create({ owner: pr, template: 'chinook' });
    await core.instances.create({ owner: pr, template: 'sakila' });
    const other = await core.instances.create({ owner: pullOwner('octo/app', 50), template: 'chinook' });
    await core.settle();
    expect((await core.instances.pullRequestViews('octo/app')).length).toBe(3);
    expect(await core.instances.resetOwner(pr)).toBe(2);
    expect(await core.instances.destroyOwner(pr)).toBe(2);
    await core.settle();
    expect((await core.instances.list()).map((i) => i.id)).toEqual([other.instance.id]);
    expect((await core.instances.viewsOf(pr))).toEqual([]);
  });
});
