// Pull-request lifetimes over fakes: idle expiry counted from pushes, /myaas extend and protect, the
// expired comment, and the next push bringing the databases back.
import { describe, expect, it } from 'vitest';
import { pullOwner } from '../../controller/domain/owner.js';
import { createChatOpsTarget } from '../../controller/github/chatops-target.js';
import { renderComment } from '../../controller/github/comment.js';
import { buildCore } from '../helpers/fakes/core.js';
import { pullRequestHandlerFor, createMemoryLogger } from '../helpers/webhook-fixtures.js';

const owner = pullOwner('octo/app', 4);
const DAY = 86400_000;

async function setup() {
  const core = buildCore({ idleTtl: 7 * 86400 });
  await core.addVersion('chinook');
  const handler = pullRequestHandlerFor({ instances: core.instances, repos: { 'octo/app': ['chinook'] }, log: createMemoryLogger(), store: core.store });
  const event = (action: string) => ({ action, number: 4, repo: 'octo/app', headRepo: 'octo/app', updatedAt: new Date(core.clock.now()).toISOString() });
  const target = createChatOpsTarget({ instances: core.instances, pullRequests: handler, pulls: core.store, repos: { 'octo/app': ['chinook'] }, clock: core.clock });
  return { core, handler, event, target };
}

describe('pull request lifetimes', () => {
  it('expire a week after the last push, not after other events; a push keeps them', async () => {
    const { core, handler, event } = await setup();
    await handler.handle(event('opened'));
    await core.settle();
    const [i] = await core.instances.list({ owner });
    expect(i.expiresAt?.getTime()).toBe(core.clock.now() + 7 * DAY);
    core.clock.advance(5 * DAY);
    await handler.handle(event('edited'));
    expect((await core.instances.get(i.id)).expiresAt?.getTime()).toBe(i.expiresAt!.getTime());
    await handler.handle(event('synchronize'));
    expect((await core.instances.get(i.id)).expiresAt?.getTime()).toBe(core.clock.now() + 7 * DAY);
  });

  it('an expired pull request’s comment says how to get them back, and the next push does', async () => {
    const { core, handler, event } = await setup();
    await handler.handle(event('opened'));
    await core.settle();
    core.clock.advance(8 * DAY);
    expect((await core.reaper.run()).expired).toBe(1);
    await core.settle();
    const gone = (await core.store.listLive({ ownerPrefix: 'gh:octo/app#4' })).length;
    expect(gone).toBe(0);
    const all = [...core.store.instances.values()].filter((x) => x.owner === 'gh:octo/app#4');
    expect(all.map((x) => [x.status, x.endReason])).toEqual([['destroyed', 'expired']]);
    const body = renderComment({ owner: 'gh:octo/app#4', instances: [await core.instances.view(all[0])], showPassword: false, pullRequest: true, idleExpiry: true });
    expect(body).toContain('Push to the pull request, or comment `/myaas recreate`, to get fresh ones.');
    await handler.handle(event('synchronize'));
    await core.settle();
    expect((await core.instances.list({ owner })).map((x) => x.status)).toEqual(['ready']);
  });

  it('/myaas extend 3d lengthens it; /myaas protect keeps it past its expiry; unprotect lets it go', async () => {
    const { core, handler, event, target } = await setup();
    await handler.handle(event('opened'));
    await core.settle();
    const [i] = await core.instances.list({ owner });
    expect(await target.extend(owner, 3 * 86400)).toBe(1);
    expect((await core.instances.get(i.id)).expiresAt?.getTime()).toBe(i.expiresAt!.getTime() + 3 * DAY);
    expect(await target.protect(owner, true)).toBe(1);
    core.clock.advance(30 * DAY);
    expect((await core.reaper.run()).expired).toBe(0);
    const body = renderComment({ owner: 'gh:octo/app#4', instances: [await core.instances.view(await core.instances.get(i.id))], showPassword: false, pullRequest: true, idleExpiry: true });
    expect(body).toContain('| expires | when the pull request closes (protected) |');
    await target.protect(owner, false);
    expect((await core.reaper.run()).expired).toBe(1);
  });

  it('/myaas recreate replaces the databases with fresh ones; refused on a closed pull request', async () => {
    const { core, handler, event, target } = await setup();
    await handler.handle(event('opened'));
    await core.settle();
    const [before] = await core.instances.list({ owner });
    expect(await target.recreate(owner)).toBe(1);
    await core.settle();
    const [after] = await core.instances.list({ owner });
    expect(after.id).not.toBe(before.id);
    expect(after.status).toBe('ready');
    expect((await core.instances.get(before.id)).status).toBe('destroyed');
    await handler.handle(event('closed'));
    await expect(target.recreate(owner)).rejects.toThrow('the pull request is closed');
  });
});
