// A version that configuration pins (MYAAS_GITHUB_REPOS octo/app=chinook@v…) outlives its last
// instance: a pull request opened next week still gets it.
import { describe, expect, it } from 'vitest';
import { buildCore, DATA } from '../helpers/fakes/core.js';

describe('pinned template versions', () => {
  it('the reaper keeps a retired version that is pinned, and removes one that is not', async () => {
    const pinned = 'v-pinned-1';
    const core = buildCore({ pinnedVersions: [pinned] });
    await core.addVersion('chinook', { id: pinned, status: 'retired' });
    const loose = await core.addVersion('chinook', { status: 'retired' });
    const latest = await core.addVersion('chinook');
    const report = await core.reaper.run();
    expect(core.world.volumes.has(`${DATA}/templates/chinook/${pinned}`)).toBe(true);
    expect(core.world.volumes.has(`${DATA}/templates/chinook/${latest.id}`)).toBe(true);
    expect(core.world.volumes.has(`${DATA}/templates/chinook/${loose.id}`)).toBe(false);
    expect(report.removed).toEqual([`${DATA}/templates/chinook/${loose.id}`]);
  });
});
