// Found by the chaos campaign: asking for an instance while the owner's previous one of the template
// was still being destroyed (a pull request closed and reopened at once, `myaas rm` then `create`)
// was refused ("instance name … is taken"), so a reopened pull request got no databases. The create
// now waits the moment the destroy takes, then makes a new instance.
import { describe, expect, it } from 'vitest';
import { apiOwner, pullOwner } from '../../controller/domain/owner.js';
import { buildCore } from '../helpers/fakes/core.js';

describe('create while the previous instance is being destroyed', () => {
  it('waits for the destroy, then makes a new instance of the same name', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const owner = apiOwner('dee');
    const first = (await core.instances.create({ owner, template: 'chinook', name: 'dee' })).instance;
    await core.settle();
    await core.instances.destroy(first.id);
    const again = await core.instances.create({ owner, template: 'chinook', name: 'dee' });
    expect(again.created).toBe(true);
    expect(again.instance.id).not.toBe(first.id);
    await core.settle();
    expect(await core.instances.get(first.id)).toMatchObject({ status: 'destroyed' });
    expect(await core.instances.get(again.instance.id)).toMatchObject({ status: 'ready', name: 'dee' });
  });

  it('a pull request closed and reopened at once gets its instance back', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const owner = pullOwner('octo/app', 7);
    await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    expect(await core.instances.destroyOwner(owner)).toBe(1);
    const reopened = await core.instances.create({ owner, template: 'chinook' });
    expect(reopened.created).toBe(true);
    await core.settle();
    expect((await core.instances.list({ owner })).map((i) => i.status)).toEqual(['ready']);
  });
});
