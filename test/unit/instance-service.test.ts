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
    expect(a.instance).toMatchObject({ owner: 'gh:octo/app#12', name: 'octo-app-pr-12-chinook' });
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

  it('gives every kind of owner its lifetime, from the clock: runs always expire, pull requests a week after last seen', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const now = core.clock.now();
    const run = await core.instances.create({ owner: runOwner('octo/app', '77', '1'), template: 'chinook' });
    const pr = await core.instances.create({ owner: pullOwner('octo/app', 3), template: 'chinook' });
    const mine = await core.instances.create({ owner: apiOwner('alice'), template: 'chinook', ttlSeconds: 60 });
    const forever = await core.instances.create({ owner: apiOwner('carol'), template: 'chinook', ttlSeconds: 0 });
    expect(run.instance.expiresAt?.getTime()).toBe(now + 3 * 3600_000);
    expect(pr.instance.expiresAt?.getTime()).toBe(now + 7 * 86400_000);
    expect(mine.instance.expiresAt?.getTime()).toBe(now + 60_000);
    expect(forever.instance.expiresAt).toBeNull();
    expect(run.instance.name).toBe('octo-app-run-77-1-chinook');
  });

  it('a repository’s token may not ask for no expiry, nor for more than the maximum', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const owner = runOwner('octo/app', '78', '1');
    const forever = await core.instances.create({ owner, template: 'chinook', ttlSeconds: 0, trusted: false }).catch((x: unknown) => x);
    expect((forever as AppError).status).toBe(403);
    expect((forever as AppError).message).toMatch(/^ttl 0 \(never expire\) needs an admin token/);
    const long = await core.instances.create({ owner, template: 'chinook', ttlSeconds: 2 * 86400, trusted: false }).catch((x: unknown) => x);
    expect((long as AppError).message).toMatch(/longer than this controller allows a repository's token \(MYAAS_MAX_TTL=86400s\)/);
    const ok = await core.instances.create({ owner, template: 'chinook', ttlSeconds: 600, trusted: false });
    expect(ok.instance.expiresAt?.getTime()).toBe(core.clock.now() + 600_000);
  });

  it('a pull request seen again lives on; one whose events stopped expires', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const owner = pullOwner('octo/app', 9);
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    core.clock.advance(3 * 86400_000);
    await core.instances.refreshLifetime(owner);
    const refreshed = await core.instances.get(instance.id);
    expect(refreshed.expiresAt?.getTime()).toBe(core.clock.now() + 7 * 86400_000);
    // Within the hour nothing is written again.
    const writes = core.store.writes.length;
    core.clock.advance(60_000);
    await core.instances.refreshLifetime(owner);
    expect(core.store.writes.length).toBe(writes);
    // Not seen for a week: the reaper lets it go.
    core.clock.advance(8 * 86400_000);
    const report = await core.reaper.run();
    await core.settle();
    expect(report.expired).toBe(1);
    expect((await core.instances.get(instance.id)).status).toBe('destroyed');
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

describe('capacity', () => {
  it('past the caps instances wait (queued), oldest first, and start as places free; a repository cannot take them all', async () => {
    const core = buildCore({ maxInstances: 3, maxPerRepo: 2 });
    await core.addVersion('chinook');
    const made = [];
    for (const [repo, n] of [['octo/app', 1], ['octo/app', 2], ['octo/app', 3], ['octo/site', 1], ['octo/site', 2]] as const) {
      made.push((await core.instances.create({ owner: pullOwner(repo, n), template: 'chinook' })).instance);
    }
    // octo/app#3 waits for its repository's cap (2), octo/site#1 takes the last place on the host (3).
    expect(made.map((i) => i.status)).toEqual(['provisioning', 'provisioning', 'queued', 'provisioning', 'queued']);
    await core.settle();
    expect(core.world.containers.size).toBe(3);
    await core.instances.destroyOwner(pullOwner('octo/app', 1));
    await core.settle();
    // The oldest in line that fits: octo/app#3 (its repository has room again), not the newer octo/site#2.
    const now = await Promise.all(made.map(async (i) => (await core.instances.get(i.id)).status));
    expect(now).toEqual(['destroyed', 'ready', 'ready', 'ready', 'queued']);
    await core.instances.destroyOwner(pullOwner('octo/site', 1));
    await core.settle();
    expect((await core.instances.get(made[4].id)).status).toBe('ready');
  });

  it('concurrent creates never pass the cap', async () => {
    const core = buildCore({ maxInstances: 2 });
    await core.addVersion('chinook');
    const made = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((n) => core.instances.create({ owner: apiOwner(n), template: 'chinook' })));
    await core.settle();
    const statuses = await Promise.all(made.map(async (m) => (await core.instances.get(m.instance.id)).status));
    expect(statuses.filter((s) => s === 'ready')).toHaveLength(2);
    expect(statuses.filter((s) => s === 'queued')).toHaveLength(3);
  });
});
