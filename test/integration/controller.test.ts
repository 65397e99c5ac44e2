// The whole controller on real things: Docker, btrfs / XFS reflink / plain copy, PGlite and PostgreSQL
// state, the Chinook dumps on both engines, and real psql / mariadb clients.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChinookDumps, importAndWait, leftovers, startTestController, wipe, type TestController } from '../helpers/controller.js';
import { startStatePostgres } from '../helpers/state-postgres.js';
import { mariadb, POOLS, psql, requireDocker, requirePool, run } from '../helpers/testbed.js';

const MATRIX = [
  { storage: 'btrfs', pool: POOLS.btrfs, kind: 'btrfs', state: 'pglite' },
  { storage: 'reflink', pool: POOLS.xfs, kind: 'xfs', state: 'postgres' },
  { storage: 'copy', pool: POOLS.btrfs, kind: 'btrfs', state: 'postgres' },
  { storage: 'btrfs', pool: POOLS.btrfs, kind: 'btrfs', state: 'postgres' },
  { storage: 'reflink', pool: POOLS.xfs, kind: 'xfs', state: 'pglite' },
  { storage: 'btrfs', pool: POOLS.btrfs, kind: 'btrfs', state: 'pglite', network: 'host' },
] as const;

const label = (m: (typeof MATRIX)[number]) => `${m.storage} storage with ${m.state} state${'network' in m ? ` and ${m.network} networking` : ''}`;

describe.each(MATRIX.map((m) => [label(m), m] as const))('controller on %s', (_name, m) => {
  const { storage, pool, kind, state } = m;
  const network = 'network' in m ? m.network : 'bridge';
  let t: TestController;
  let stateDb: Awaited<ReturnType<typeof startStatePostgres>> | null = null;

  beforeAll(async () => {
    await requireDocker();
    requirePool(pool, kind);
    if (state === 'postgres') stateDb = await startStatePostgres();
    t = await startTestController({
      dataDir: join(pool, `it-${storage}-${state}-${network}-${process.pid}`), storage, databaseUrl: stateDb?.url,
      env: { MYAAS_NETWORK: network },
    });
    await addChinookDumps(t.dumpsDir);
  });
  afterAll(async () => {
    if (t) await wipe(t);
    await stateDb?.stop();
  });

  it('imports both Chinook dumps, each into the database it creates', async () => {
    const [pg, my] = await Promise.all([importAndWait(t, 'chinook'), importAndWait(t, 'chinook-my')]);
    expect(pg.status, pg.error).toBe('ready');
    expect(my.status, my.error).toBe('ready');
    const ts = (await t.api('GET', '/api/v1/templates')).body;
    expect(ts.find((x: any) => x.name === 'chinook')).toMatchObject({ engine: 'postgres', latest: pg.id });
    expect(ts.find((x: any) => x.name === 'chinook-my')).toMatchObject({ engine: 'mariadb', latest: my.id });
    expect(t.controller.storage.name).toBe(storage);
  });

  it('hands out isolated postgres instances with their own passwords, resets and destroys them', async () => {
    const a = await t.api('POST', '/api/v1/instances?wait=60', { template: 'chinook', name: 'alice' });
    const b = await t.api('POST', '/api/v1/instances?wait=60', { template: 'chinook', name: 'bob' });
    expect(a.status).toBe(201);
    expect(a.body.status, a.body.error).toBe('ready');
    expect(b.body.status, b.body.error).toBe('ready');
    const ua = a.body.connection.url;
    const ub = b.body.connection.url;
    expect(ua).toMatch(/^postgres:\/\/postgres:.+@127\.0\.0\.1:\d+\/chinook$/);
    expect(a.body.connection.password).not.toBe(b.body.connection.password);
    expect(a.body.connection.port).not.toBe(b.body.connection.port);
    // Its own container, with the configured limits and myaas labels (and no secret among them).
    const { stdout } = await run('docker', ['inspect', '--format', '{{json .HostConfig.Memory}} {{json .HostConfig.NanoCpus}} {{json .Config.Labels}}', `myaas-${a.body.id}`]);
    const [memory, cpus, labels] = stdout.trim().split(' ');
    expect(Number(memory)).toBe(512 * 1024 * 1024);
    expect(Number(cpus)).toBe(1e9);
    expect(JSON.parse(labels)).toMatchObject({ 'myaas.instance': a.body.id, 'myaas.template': 'chinook', 'myaas.role': 'instance' });
    expect(labels).not.toContain(a.body.connection.password);

    expect(await psql(ua, 'select count(*) from track')).toBe('3503');
    // The template was vacuumed (frozen, analysed) before it was sealed, so no clone's autovacuum
    // rewrites the tables it shares with the template (it did: ~137 MB of new disk per pgbench-s10
    // instance a minute after it started, 20 GB for 200). The statistics survive the clean shutdown.
    expect(await psql(ua, "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind = 'r' and c.relpages > 0")).not.toBe('0');
    expect(await psql(ua, 'select count(*) from pg_stat_user_tables')).toBe('11');
    expect(await psql(ua, 'select count(*) from pg_stat_user_tables where vacuum_count = 0')).toBe('0');
    expect(Number(await psql(ua, "select max(age(relfrozenxid)) from pg_class where relkind = 'r' and relnamespace = 'public'::regnamespace"))).toBeLessThan(1000);
    await psql(ua, 'delete from invoice_line');
    expect(await psql(ua, 'select count(*) from invoice_line')).toBe('0');
    expect(await psql(ub, 'select count(*) from invoice_line')).toBe('2240');

    // The template's admin secret was rotated away: only the instance's own password works.
    const version = await t.controller.store.getVersion(a.body.templateVersion);
    const withAdminSecret = ua.replace(`:${a.body.connection.password}@`, `:${version!.adminPassword}@`);
    await expect(psql(withAdminSecret, 'select 1')).rejects.toThrow(/password authentication failed/);

    // Get-or-create: the same owner and template give the same instance.
    const again = await t.api('POST', '/api/v1/instances', { template: 'chinook', name: 'alice' });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(a.body.id);

    const reset = await t.api('POST', `/api/v1/instances/${a.body.id}/reset?wait=60`);
    expect(reset.body.status, reset.body.error).toBe('ready');
    expect(reset.body.connection.url).toBe(ua);
    expect(await psql(ua, 'select count(*) from invoice_line')).toBe('2240');

    const list = (await t.api('GET', '/api/v1/instances')).body;
    expect(list.map((i: any) => i.id).sort()).toEqual([a.body.id, b.body.id].sort());
    expect(JSON.stringify(list)).not.toContain(a.body.connection.password);

    for (const id of [a.body.id, b.body.id]) {
      const d = await t.api('DELETE', `/api/v1/instances/${id}?wait=60`);
      expect(d.body.status).toBe('destroyed');
    }
    await expect(psql(ua, 'select 1')).rejects.toThrow();
    expect(await leftovers(t)).toEqual({ containers: [], clones: [], staging: [] });
  });

  it('hands out mariadb instances that a mariadb client can query', async () => {
    const a = await t.api('POST', '/api/v1/instances?wait=60', { template: 'chinook-my', name: 'carol' });
    const b = await t.api('POST', '/api/v1/instances?wait=60', { template: 'chinook-my', name: 'dave' });
    expect(a.body.status, a.body.error).toBe('ready');
    expect(b.body.status, b.body.error).toBe('ready');
    const ua = a.body.connection.url;
    expect(ua).toMatch(/^mysql:\/\/root:.+@127\.0\.0\.1:\d+\/Chinook$/);
    expect(await mariadb(ua, 'SELECT COUNT(*) FROM Track')).toBe('3503');
    // Only root@'%' with the instance's own password is left: no passwordless local accounts.
    expect(await mariadb(ua, "SELECT GROUP_CONCAT(CONCAT(User, '@', Host)) FROM mysql.global_priv WHERE User NOT IN ('mariadb.sys')")).toBe('root@%');
    await mariadb(ua, 'DELETE FROM InvoiceLine');
    expect(await mariadb(b.body.connection.url, 'SELECT COUNT(*) FROM InvoiceLine')).toBe('2240');
    const version = await t.controller.store.getVersion(a.body.templateVersion);
    await expect(mariadb(ua.replace(`:${a.body.connection.password}@`, `:${version!.adminPassword}@`), 'SELECT 1')).rejects.toThrow(/Access denied/);

    const reset = await t.api('POST', `/api/v1/instances/${a.body.id}/reset?wait=60`);
    expect(reset.body.status, reset.body.error).toBe('ready');
    expect(await mariadb(ua, 'SELECT COUNT(*) FROM InvoiceLine')).toBe('2240');

    for (const id of [a.body.id, b.body.id]) expect((await t.api('DELETE', `/api/v1/instances/${id}?wait=60`)).body.status).toBe('destroyed');
    expect(await leftovers(t)).toEqual({ containers: [], clones: [], staging: [] });
  });
});
