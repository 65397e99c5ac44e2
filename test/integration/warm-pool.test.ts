// MYAAS_WARM_POOL: started clones wait for owners; a claim rotates in fresh credentials and checks
// readiness; the pool refills and never hands out a clone of an older version.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChinookDumps, importAndWait, startTestController, wipe, type TestController } from '../helpers/controller.js';
import { POOLS, psql, requireDocker, requirePool } from '../helpers/testbed.js';

describe('warm pool', () => {
  let t: TestController;
  const warm = async () => (await t.controller.store.listLive({ ownerPrefix: 'pool:' })).filter((i) => i.template === 'chinook');
  async function untilWarm(n: number, version: string) {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const ready = (await warm()).filter((w) => w.status === 'ready' && w.versionId === version);
      if (ready.length >= n && (await warm()).length === n) return ready;
      if (Date.now() > deadline) throw new Error(`pool did not fill: ${JSON.stringify(await warm())}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    await requireDocker();
    requirePool(POOLS.btrfs, 'btrfs');
    t = await startTestController({ dataDir: join(POOLS.btrfs, `it-warm-${process.pid}`), env: { MYAAS_WARM_POOL: '2' } });
    await addChinookDumps(t.dumpsDir);
  });
  afterAll(async () => {
    if (t) await wipe(t);
  });

  it('hands out a warm instance with its own fresh password and refills', async () => {
    const v1 = await importAndWait(t, 'chinook');
    expect(v1.status).toBe('ready');
    const pool = await untilWarm(2, v1.id);
    const r = await t.api('POST', '/api/v1/instances', { template: 'chinook', name: 'fast' });
    expect(r.status).toBe(201);
    expect(r.body.status).toBe('ready');
    expect(pool.map((p) => p.id)).toContain(r.body.id);
    expect(r.body.owner).toBe('api:fast');
    const old = pool.find((p) => p.id === r.body.id)!;
    expect(r.body.connection.password).not.toBe(old.password);
    expect(await psql(r.body.connection.url, 'select count(*) from track')).toBe('3503');
    await expect(psql(r.body.connection.url.replace(r.body.connection.password, old.password), 'select 1')).rejects.toThrow(/password/);
    // The pool's own instances are not listed as anyone's.
    expect(((await t.api('GET', '/api/v1/instances')).body as any[]).map((i) => i.id)).toEqual([r.body.id]);
    await untilWarm(2, v1.id);
  });

  it('replaces warm clones of an older version after a new import, and hands out only the new one', async () => {
    const v2 = await importAndWait(t, 'chinook');
    expect(v2.status).toBe('ready');
    await t.controller.sweep();
    await untilWarm(2, v2.id);
    const r = await t.api('POST', '/api/v1/instances', { template: 'chinook', name: 'newer' });
    expect(r.body.status).toBe('ready');
    expect(r.body.templateVersion).toBe(v2.id);
    expect(await psql(r.body.connection.url, 'select count(*) from album')).toBe('347');
  });

  it('removes an old version once no instance uses it any more', async () => {
    const versions = () => readdir(join(t.dataDir, 'templates', 'chinook'));
    const [oldUser] = ((await t.api('GET', '/api/v1/instances')).body as any[]).filter((i) => i.name === 'fast');
    const oldVersion = oldUser.templateVersion;
    await t.controller.sweep();
    expect(await versions()).toContain(oldVersion); // 'fast' still runs on it
    expect((await t.api('DELETE', `/api/v1/instances/${oldUser.id}?wait=60`)).body.status).toBe('destroyed');
    await t.controller.sweep();
    expect(await versions()).not.toContain(oldVersion);
    const tpl = ((await t.api('GET', '/api/v1/templates')).body as any[]).find((x) => x.name === 'chinook');
    expect(tpl.versions.find((v: any) => v.id === oldVersion).status).toBe('retired');
  });
});
