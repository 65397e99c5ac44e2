// Found by the chaos campaign: a controller started again did not answer its API (nor GitHub's
// webhooks, which GitHub does not send again) until every live instance had been provisioned again,
// tens of seconds with a few instances, minutes with many. The start-up sweep removes orphans first,
// then lets the instances converge while the controller already serves.
import { describe, expect, it } from 'vitest';
import { apiOwner } from '../../controller/domain/owner.js';
import { buildCore } from '../helpers/fakes/core.js';
import { gate } from '../helpers/fakes/world.js';

describe('the start-up sweep', () => {
  it('answers once orphans are gone, while instances still converge; waiting callers get the whole pass', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner: apiOwner('alice'), template: 'chinook' });
    await core.settle();
    const before = await core.instances.get(instance.id);
    // As after a host restart: the server is gone, and starting it again takes a while.
    core.world.containers.delete(before.containerId!);
    const slow = gate();
    core.world.faults.startGate = slow;

    const report = await core.reaper.run({ waitForInstances: false });
    expect(report.removed).toEqual([]);
    expect((await core.instances.get(instance.id)).containerId).toBe(before.containerId);
    // A periodic sweep meanwhile shares the pass and waits for the instances.
    let swept = false;
    const periodic = core.reaper.run().then(() => (swept = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(swept).toBe(false);

    core.world.faults.startGate = null;
    slow.open();
    await periodic;
    await core.settle();
    const after = await core.instances.get(instance.id);
    expect(after).toMatchObject({ status: 'ready', port: before.port, password: before.password });
    expect(after.containerId).not.toBe(before.containerId);
  });
});
