// Bad input gets a clear error with the right status, leaves nothing half-made, and never touches the
// latest good template version or a running instance. Also the other dump formats and the TTL reaper.
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChinookDumps, importAndWait, leftovers, startTestController, wipe, type TestController } from '../helpers/controller.js';
import { chinookSql, POOLS, psql, requireDocker, requirePool } from '../helpers/testbed.js';

const run = promisify(execFile);

describe('bad input and other dump formats', () => {
  let t: TestController;
  let pgDumps: string;

  beforeAll(async () => {
    await requireDocker();
    requirePool(POOLS.btrfs, 'btrfs');
    t = await startTestController({ dataDir: join(POOLS.btrfs, `it-bad-${process.pid}`) });
    await addChinookDumps(t.dumpsDir);
    pgDumps = join(t.dumpsDir, 'postgres');
    expect((await importAndWait(t, 'chinook')).status).toBe('ready');
  });
  afterAll(async () => {
    if (t) await wipe(t);
  });

  it('refuses invalid names, unknown templates, bad bodies and missing auth with clear JSON errors', async () => {
    const bad = await t.api('POST', '/api/v1/instances', { template: 'Not Valid' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid_name' });
    expect(bad.body.error.message).toMatch(/lowercase letters/);
    const badName = await t.api('POST', '/api/v1/instances', { template: 'chinook', name: '../etc' });
    expect(badName.status).toBe(400);
    const missing = await t.api('POST', '/api/v1/instances', { template: 'nosuch' });
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toMatch(/nosuch\.sql.*myaas import nosuch/);
    expect((await t.api('POST', '/api/v1/instances', '{not json')).status).toBe(400);
    expect((await t.api('POST', '/api/v1/instances', { template: 'chinook', ttl: 'forever' })).body.error.message).toMatch(/duration/);
    expect((await t.api('GET', '/api/v1/instances', undefined, null)).status).toBe(401);
    expect((await t.api('GET', '/api/v1/instances', undefined, 'wrong')).status).toBe(401);
    expect((await t.api('GET', '/api/v1/instances/inope')).status).toBe(404);
    expect((await t.api('POST', '/api/v1/templates/Bad!/import')).status).toBe(400);
  });

  it('an unknown engine folder is named in the error', async () => {
    await mkdir(join(t.dumpsDir, 'oracle'), { recursive: true });
    await writeFile(join(t.dumpsDir, 'oracle', 'legacy.sql'), 'select 1;\n');
    const r = await t.api('POST', '/api/v1/templates/legacy/import');
    expect(r.status).toBe(404);
    expect(r.body.error.message).toMatch(/unknown engine folder "oracle".*postgres or mariadb/);
  });

  it('a dump with an SQL error fails with the error, keeps latest, and leaves running instances alone', async () => {
    const inst = await t.api('POST', '/api/v1/instances?wait=60', { template: 'chinook', name: 'keeper' });
    expect(inst.body.status).toBe('ready');
    const latestBefore = ((await t.api('GET', '/api/v1/templates')).body as any[]).find((x) => x.name === 'chinook').latest;
    const good = await readFile(join(pgDumps, 'chinook.sql'), 'utf8');
    await writeFile(join(pgDumps, 'chinook.sql'), `${good}\nINSERT INTO artist VALUES (oops);\n`);
    const v = await importAndWait(t, 'chinook');
    expect(v.status).toBe('failed');
    expect(v.error).toMatch(/loading chinook\.sql failed: .*column "oops" does not exist/s);
    const tpl = ((await t.api('GET', '/api/v1/templates')).body as any[]).find((x) => x.name === 'chinook');
    expect(tpl.latest).toBe(latestBefore);
    expect(await psql(inst.body.connection.url, 'select count(*) from artist')).toBe('275');
    expect(await readdir(join(t.dataDir, 'templates', 'chinook'))).toEqual([latestBefore]);
    await writeFile(join(pgDumps, 'chinook.sql'), good);
    expect((await t.api('DELETE', `/api/v1/instances/${inst.body.id}?wait=60`)).body.status).toBe('destroyed');
  });

  it('a truncated .sql.gz fails before any container is made', async () => {
    const gz = gzipSync(await chinookSql('postgres'));
    await writeFile(join(pgDumps, 'cut.sql.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
    const v = await importAndWait(t, 'cut');
    expect(v.status).toBe('failed');
    expect(v.error).toMatch(/not a complete gzip file/);
    expect(await readdir(join(t.dataDir, 'templates', 'cut'))).toEqual([]);
    expect(await leftovers(t)).toEqual({ containers: [], clones: [], staging: [] });
  });

  it('loads .sql.gz with an after-script, and pg_dump -Fc archives with parallel restore', async () => {
    await writeFile(join(pgDumps, 'masked.sql.gz'), gzipSync(await chinookSql('postgres')));
    await writeFile(join(pgDumps, 'masked.after.sql'), "update customer set email = 'hidden@example.com';\n");
    const v = await importAndWait(t, 'masked');
    expect(v.status, v.error).toBe('ready');
    const m = await t.api('POST', '/api/v1/instances?wait=60', { template: 'masked', name: 'masked1' });
    expect(m.body.status, m.body.error).toBe('ready');
    expect(await psql(m.body.connection.url, 'select count(distinct email) from customer')).toBe('1');

    // A custom-format archive made from that instance with the real pg_dump.
    await run('pg_dump', ['-Fc', '-f', join(pgDumps, 'archive.dump'), m.body.connection.url]);
    const a = await importAndWait(t, 'archive');
    expect(a.status, a.error).toBe('ready');
    const ai = await t.api('POST', '/api/v1/instances?wait=60', { template: 'archive', name: 'archive1' });
    expect(ai.body.connection.database).toBe('archive');
    expect(await psql(ai.body.connection.url, 'select count(*) from track')).toBe('3503');
    for (const id of [m.body.id, ai.body.id]) await t.api('DELETE', `/api/v1/instances/${id}?wait=60`);
  });

  it('expires instances with a TTL and leaves nothing behind', async () => {
    const r = await t.api('POST', '/api/v1/instances?wait=60', { template: 'chinook', name: 'short', ttl: 1 });
    expect(r.body.status).toBe('ready');
    expect(new Date(r.body.expiresAt).getTime()).toBeGreaterThan(Date.now() - 5000);
    await new Promise((res) => setTimeout(res, 1200));
    await t.controller.sweep();
    expect((await t.api('GET', `/api/v1/instances/${r.body.id}?wait=30`)).body.status).toBe('destroyed');
    expect(await leftovers(t)).toEqual({ containers: [], clones: [], staging: [] });
  });
});

describe('resource limits', () => {
  it('a full port pool answers 503 and says how to fix it', async () => {
    await requireDocker();
    const t = await startTestController({ dataDir: join(POOLS.btrfs, `it-ports-${process.pid}`), env: { MYAAS_PORT_RANGE: '45871-45871' } });
    try {
      await mkdir(join(t.dumpsDir, 'postgres'), { recursive: true });
      await writeFile(join(t.dumpsDir, 'postgres', 'chinook.sql'), await chinookSql('postgres'));
      expect((await importAndWait(t, 'chinook')).status).toBe('ready');
      const a = await t.api('POST', '/api/v1/instances?wait=60', { template: 'chinook', name: 'one' });
      expect(a.body.status, a.body.error).toBe('ready');
      expect(a.body.connection.port).toBe(45871);
      const b = await t.api('POST', '/api/v1/instances', { template: 'chinook', name: 'two' });
      expect(b.status).toBe(503);
      expect(b.body.error.code).toBe('port_pool_exhausted');
      expect(b.body.error.message).toMatch(/45871-45871.*widen the range/);
      expect((await t.api('DELETE', `/api/v1/instances/${a.body.id}?wait=60`)).body.status).toBe('destroyed');
    } finally {
      await wipe(t);
    }
  });

  it('Docker unreachable answers 503 and says how to fix it', async () => {
    const t = await startTestController({ dataDir: join(POOLS.btrfs, `it-nodocker-${process.pid}`), env: { DOCKER_HOST: 'unix:///tmp/myaas-no-docker.sock' }, start: false });
    try {
      await mkdir(join(t.dumpsDir, 'postgres'), { recursive: true });
      await writeFile(join(t.dumpsDir, 'postgres', 'chinook.sql'), await chinookSql('postgres'));
      const r = await t.api('POST', '/api/v1/templates/chinook/import');
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('docker_unavailable');
      expect(r.body.error.message).toMatch(/setup-host\.sh|DOCKER_HOST/);
      const h = await fetch(`${t.url}/healthz`);
      expect(h.status).toBe(503);
      expect(await h.json()).toMatchObject({ docker: 'unreachable', storage: 'btrfs' });
    } finally {
      await t.stop();
      await (await import('node:fs/promises')).rm(t.dataDir, { recursive: true, force: true });
    }
  });
});
