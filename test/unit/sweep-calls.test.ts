// The periodic pass over many quiet instances: one Docker list, and no call per instance. Instances
// that need something (a dead server, a new generation) are still found by that same pass.
import { describe, expect, it } from 'vitest';
import { apiOwner } from '../../controller/domain/owner.js';
import { buildCore } from '../helpers/fakes/core.js';

function countCalls(core: ReturnType<typeof buildCore>) {
  const calls: string[] = [];
  const rt = core.world.runtime as unknown as Record<string, unknown>;
  for (const [name, fn] of Object.entries(rt)) {
    if (typeof fn !== 'function') continue;
    rt[name] = (...args: unknown[]) => {
      calls.push(name);
      return (fn as (...a: unknown[]) => unknown).apply(core.world.runtime, args);
    };
  }
  return calls;
}

describe('the periodic pass', () => {
  it('makes one Docker list for 60 ready instances and no call per instance', async () => {
    const core = buildCore({ maxInstances: 200 });
    await core.addVersion('chinook');
    for (let n = 0; n < 60; n++) await core.instances.create({ owner: apiOwner(`u${n}`), template: 'chinook' });
    await core.settle();
    expect((await core.instances.list({})).every((i) => i.status === 'ready')).toBe(true);
    const calls = countCalls(core);
    await core.reaper.run();
    expect(calls).toEqual(['list']);
  });

  it('still brings back a server that died, found by that one list', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner: apiOwner('alice'), template: 'chinook' });
    const { instance: other } = await core.instances.create({ owner: apiOwner('bob'), template: 'chinook' });
    await core.settle();
    core.clock.advance(120_000);
    const dead = (await core.instances.get(instance.id)).containerId!;
    core.world.containers.delete(dead);
    const calls = countCalls(core);
    await core.reaper.run();
    expect((await core.instances.get(instance.id)).status).toBe('ready');
    expect((await core.instances.get(instance.id)).containerId).not.toBe(dead);
    // the quiet one cost nothing beyond the list; the dead one was looked at and started again
    expect(calls[0]).toBe('list');
    expect(calls).toContain('start');
    expect((await core.instances.get(other.id)).status).toBe('ready');
  });
});
