// Found by the soak (seed 625983897): the sweep listed versions while a template's import was still
// running, the import then ended (ready, now latest), and the sweep, seeing the stale `importing` and
// an importer no longer running it, removed the datadir of what had just become latest: every new
// instance of the template would then fail. The decision must rest on what is true when it is made.
import { describe, expect, it } from 'vitest';
import { createReaper } from '../../controller/jobs/reaper.js';
import { createPaths } from '../../controller/domain/layout.js';
import type { Store } from '../../controller/app/ports.js';
import { buildCore, DATA } from '../helpers/fakes/core.js';

type Core = ReturnType<typeof buildCore>;

/** The reaper over `core`'s world, with the state DB and the importer's answer given by the test. */
function reaperOf(core: Core, store: Store, isRunning: () => boolean) {
  return createReaper({
    store, runtime: core.world.runtime, storage: core.world.storage, files: core.world.files,
    importer: { isRunning, start: () => Promise.reject(new Error('no import expected')) },
    reconciler: core.reconciler, changes: { publish: () => undefined } as never, paths: createPaths(DATA), clock: core.clock,
    home: DATA, telemetry: { swept: () => undefined }, log: core.log,
  });
}

describe('the sweep and an import that ends while it runs', () => {
  it('keeps the datadir of a version that became ready after the sweep listed it as importing', async () => {
    const core = buildCore();
    const v = await core.addVersion('chinook', { status: 'importing', readyAt: null });
    const dir = `${DATA}/templates/chinook/${v.id}`;
    let running = true;
    let finished = false;
    // The import ends right after the sweep has read every version (still `importing` in that read).
    const store = new Proxy(core.store, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (key !== 'listVersions') return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: Parameters<Store['listVersions']>) => {
          const rows = await target.listVersions(...args);
          if (!args[0]?.status && !finished) {
            finished = true;
            await target.updateVersion(v.id, { status: 'ready', readyAt: new Date(core.clock.now()), phase: null });
            running = false;
          }
          return rows;
        };
      },
    }) as Store;
    const reaper = reaperOf(core, store, () => running);
    const report = await reaper.run();
    expect(finished).toBe(true);
    expect(report.removed).toEqual([]);
    expect(core.world.volumes.has(dir)).toBe(true);
    expect((await core.store.getVersion(v.id))?.status).toBe('ready');
  });

  it('still removes the datadir of an import that is not running (interrupted)', async () => {
    const core = buildCore();
    const latest = await core.addVersion('chinook');
    const dead = await core.addVersion('chinook', { status: 'importing', readyAt: null });
    const reaper = reaperOf(core, core.store, () => false);
    const report = await reaper.run();
    expect(report.removed).toEqual([`${DATA}/templates/chinook/${dead.id}`]);
    expect(core.world.volumes.has(`${DATA}/templates/chinook/${latest.id}`)).toBe(true);
  });
});

describe('the interrupted-import check and an import that ends while it runs', () => {
  it('does not mark failed a version that became ready after it was listed as importing', async () => {
    const core = buildCore();
    const v = await core.addVersion('chinook', { status: 'importing', readyAt: null });
    let running = true;
    const store = new Proxy(core.store, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (key !== 'listVersions') return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: Parameters<Store['listVersions']>) => {
          const rows = await target.listVersions(...args);
          if (args[0]?.status?.includes('importing') && running) {
            await target.updateVersion(v.id, { status: 'ready', readyAt: new Date(core.clock.now()), phase: null });
            running = false;
          }
          return rows;
        };
      },
    }) as Store;
    const reaper = reaperOf(core, store, () => running);
    const report = await reaper.run();
    expect(running).toBe(false);
    expect(report.interrupted).toBe(0);
    expect(await core.store.getVersion(v.id)).toMatchObject({ status: 'ready', error: null });
    expect(core.world.volumes.has(`${DATA}/templates/chinook/${v.id}`)).toBe(true);
  });
});
