// Found by the chaos campaign: servers stopped from outside (the Docker engine restarting stops every
// container; a host shutting down kills them) came back only after a crash-loop pause when they had
// been up less than a minute, and after a few engine restarts in a row were left failed. Only a server
// that stops on its own (an error exit, an out-of-memory kill) is crashing in a loop.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../controller/domain/errors.js';
import { apiOwner } from '../../controller/domain/owner.js';
import { buildCore } from '../helpers/fakes/core.js';

const owner = apiOwner('alice');

describe('servers stopped from outside', () => {
  for (const [why, exitCode] of [
    ['stopped cleanly (an engine restart stops every container)', 0],
    ['stopped with SIGTERM', 143],
    ['killed with SIGKILL (a host shutdown, docker kill)', 137],
    ['lost with its engine (Docker reports 255 after the host went down)', 255],
  ] as const) {
    it(`${why}, again and again within a minute: back at once every time, never backing off or failing`, async () => {
      const core = buildCore({ retryAttempts: 2 });
      await core.addVersion('chinook');
      const { instance } = await core.instances.create({ owner, template: 'chinook' });
      await core.settle();
      const first = await core.instances.get(instance.id);
      for (let round = 0; round < 5; round++) {
        core.clock.advance(10_000);
        const i = await core.instances.get(instance.id);
        core.world.kill(i.containerId!, { exitCode });
        await core.settle();
        const after = await core.instances.get(instance.id);
        expect(after, `round ${round}`).toMatchObject({ status: 'ready', attempts: 0, retryAt: null, port: first.port, password: first.password });
        expect(after.lastFault).toContain(`(exit code ${exitCode})`);
      }
    });
  }

  it('a server that stops on its own soon after starting still backs off (an error exit)', async () => {
    const core = buildCore({ retryAttempts: 2 });
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    core.clock.advance(10_000);
    core.world.kill((await core.instances.get(instance.id)).containerId!, { exitCode: 1 });
    await core.settle();
    expect(await core.instances.get(instance.id)).toMatchObject({ status: 'retrying', attempts: 1 });
  });

  it('an out-of-memory kill soon after starting backs off too', async () => {
    const core = buildCore({ retryAttempts: 2 });
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    core.clock.advance(10_000);
    core.world.kill((await core.instances.get(instance.id)).containerId!, { oom: true });
    await core.settle();
    expect(await core.instances.get(instance.id)).toMatchObject({ status: 'retrying', attempts: 1 });
  });

  it('a port taken by another program while the server was down: it moves to a port Docker chooses rather than fail', async () => {
    const core = buildCore({ retryAttempts: 1 });
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    const before = await core.instances.get(instance.id);
    core.clock.advance(600_000);
    core.world.faults.startFailures.push(
      new AppError('conflict', `host port ${before.port} is already in use on this machine: free it, or pick another port (leave it unset to let Docker choose)`),
    );
    core.world.kill(before.containerId!, { exitCode: 0 });
    await core.settle();
    const after = await core.instances.get(instance.id);
    expect(after).toMatchObject({ status: 'ready', password: before.password, attempts: 0 });
    expect(after.port).not.toBe(before.port);
    expect(after.lastFault).toMatch(new RegExp(`^its port ${before.port} was taken by another program`));
  });
});
