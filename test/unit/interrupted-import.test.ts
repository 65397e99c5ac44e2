// Found while building the chaos campaign: a controller killed during a template's first import left
// the instances waiting for it failed for good after the restart ("its last import failed
// (interrupted …)"), and every new instance of the template too, since a failed import is not re-run
// for an unchanged dump. An interrupted import is not a broken dump: when instances wait for it, the
// start-up sweep runs it again.
import { describe, expect, it } from 'vitest';
import { apiOwner, formatOwner } from '../../controller/domain/owner.js';
import type { InstanceRecord } from '../../controller/domain/types.js';
import { buildCore } from '../helpers/fakes/core.js';

describe('an import cut short by a crash', () => {
  it('is run again by the start-up sweep when instances wait for it, which then become ready', async () => {
    const core = buildCore();
    core.world.dumps.put({ template: 'shop', engine: 'postgres', format: 'sql', file: 'shop.sql', afterFile: null, sizeBytes: 1, fingerprint: '1:1' });
    core.world.faults.exec = (argv) =>
      argv[0] === 'list-databases' ? { exitCode: 0, stdout: 'load_shop\n' } : argv[0] === 'count-tables' ? { exitCode: 0, stdout: '2' } : { exitCode: 0, stdout: '' };
    // What the killed controller left: its import recorded as running, an instance waiting for it.
    const now = new Date(core.clock.now());
    await core.store.insertVersion({
      id: 'v20260101t000000-dead', template: 'shop', engine: 'postgres', status: 'importing', image: 'myaas-local/postgres:15', database: null,
      adminPassword: 'x', sizeBytes: null, error: null, createdAt: now, readyAt: null, dumpFingerprint: '1:1', phase: 'loading shop.sql',
    });
    const waiting: InstanceRecord = {
      id: 'iwaiting00001', name: 'early', owner: formatOwner(apiOwner('early')), template: 'shop', engine: 'postgres', versionId: null,
      pinnedVersionId: null, status: 'provisioning', desired: 'present', port: null, password: 'pw-early', containerId: null, error: null,
      generation: 0, appliedGeneration: 0, attempts: 0, retryAt: null, lastFault: null, expiresAt: null, createdAt: now, readyAt: null, destroyedAt: null,
    } as InstanceRecord;
    await core.store.getOrCreateInstance(waiting);

    const report = await core.reaper.run();
    expect(report.interrupted).toBe(1);
    await core.settle();
    const versions = await core.store.listVersions({ template: 'shop' });
    expect(versions.map((v) => v.status).sort()).toEqual(['failed', 'ready']);
    expect(versions.find((v) => v.status === 'failed')?.error).toMatch(/^interrupted/);
    expect(await core.instances.get(waiting.id)).toMatchObject({ status: 'ready', error: null });
  });

  it('is not run again when nothing waits for it (latest stays as it was)', async () => {
    const core = buildCore();
    const latest = await core.addVersion('shop');
    core.world.dumps.put({ template: 'shop', engine: 'postgres', format: 'sql', file: 'shop.sql', afterFile: null, sizeBytes: 1, fingerprint: '1:2' });
    await core.store.insertVersion({ ...latest, id: 'v20260101t000000-dead', status: 'importing', readyAt: null, phase: 'loading shop.sql' });
    await core.reaper.run();
    await core.settle();
    const versions = await core.store.listVersions({ template: 'shop' });
    expect(versions.map((v) => `${v.id}:${v.status}`).sort()).toEqual([`${latest.id}:ready`, 'v20260101t000000-dead:failed']);
  });
});
