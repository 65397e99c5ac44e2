// Never stuck, never lost, on the real engine and pool: one controller per data dir, imports that
// time out or are cancelled, dead servers noticed from Docker's events, an out-of-memory kill told to
// the owner, and instances that failed for want of a template provisioned by the next good import.
import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../controller/config.js';
import { createLogger } from '../../controller/log.js';
import { buildController } from '../../controller/main.js';
import { addChinookDumps, importAndWait, startTestController, TOKEN, wipe, type TestController } from '../helpers/controller.js';
import { chinookSql, IMAGES, POOLS, psql, requireDocker, requirePool, run, until } from '../helpers/testbed.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const exec = promisify(execFile);

describe('self-healing on real Docker', () => {
  let t: TestController;

  beforeAll(async () => {
    await requireDocker();
    requirePool(POOLS.btrfs, 'btrfs');
    t = await startTestController({
      dataDir: join(POOLS.btrfs, `it-heal-${process.pid}`),
      env: { MYAAS_MEMORY_LIMIT: '160m' },
    });
    await addChinookDumps(t.dumpsDir);
    expect((await importAndWait(t, 'chinook')).status).toBe('ready');
  });
  afterAll(async () => {
    if (t) await wipe(t);
  });

  it('refuses a second controller on the same data dir, naming the holder and where it serves', async () => {
    const config = loadConfig({ MYAAS_DATA_DIR: t.dataDir, MYAAS_POSTGRES_IMAGE: IMAGES.postgres } as NodeJS.ProcessEnv);
    const e = await buildController(config, createLogger('silent')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toContain(`the data dir ${t.dataDir} is in use by process ${process.pid}`);
    expect((e as Error).message).toContain(`serving ${t.url}`);
  });

  it('`myaas import` while a controller runs goes through it, found by the data dir, even with MYAAS_URL elsewhere', async () => {
    const env = {
      ...process.env, MYAAS_DATA_DIR: t.dataDir, MYAAS_URL: 'http://127.0.0.1:9', MYAAS_TOKEN: TOKEN,
      MYAAS_POSTGRES_IMAGE: IMAGES.postgres, MYAAS_MARIADB_IMAGE: IMAGES.mariadb,
    };
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', 'controller/cli.ts', 'import', 'chinook'], { cwd: ROOT, env, timeout: 240_000 });
    expect(stdout).toMatch(/^chinook: importing as v\S+ on the controller$/m);
    expect(stdout).toMatch(/^chinook: ready in .*now latest$/m);
  });

  it('a killed server is noticed from Docker’s events and serves again on the same URL and data within seconds', async () => {
    const made = await t.api('POST', '/api/v1/instances?wait=60', { template: 'chinook', name: 'phoenix' });
    expect(made.body.status, made.body.error).toBe('ready');
    const url = made.body.connection.url;
    await psql(url, 'create table kept (v text); insert into kept values (\'still here\')');
    const c = (await t.controller.store.getInstance(made.body.id))!.containerId!;
    const t0 = Date.now();
    await run('docker', ['kill', '--signal', 'KILL', c]);
    const back = await until('the instance to serve again', async () => psql(url, 'select v from kept').catch(() => null), 60_000);
    const ms = Date.now() - t0;
    expect(back).toBe('still here');
    const i = await until('the instance to read ready', async () => {
      const x = (await t.api('GET', `/api/v1/instances/${made.body.id}`)).body;
      return x.status === 'ready' ? x : null;
    }, 60_000);
    expect(i.lastFault).toMatch(/^the server stopped \(exit code 137\) at .*; started again on its data$/);
    // The sweep runs hourly in these tests: only the event can have brought it back this soon.
    expect(ms).toBeLessThan(60_000);
    console.log(`measured: killed server serving again after ${ms} ms`);
  });

  it('a query killed for memory is reported as an out-of-memory kill', async () => {
    const made = await t.api('POST', '/api/v1/instances?wait=60', { template: 'chinook', name: 'hungry' });
    expect(made.body.status, made.body.error).toBe('ready');
    const url = made.body.connection.url;
    // A 600 MB string in one backend, under a 160 MiB limit without swap.
    await psql(url, "select length(string_agg(repeat('x', 1000000), '')) from generate_series(1, 600)").catch(() => null);
    const i = await until('the OOM kill to be reported', async () => {
      const x = (await t.api('GET', `/api/v1/instances/${made.body.id}`)).body;
      return x.lastFault ? x : null;
    }, 60_000);
    expect(i.lastFault).toMatch(/memory limit of 160 MiB \(MYAAS_MEMORY_LIMIT\)/);
    // Each try gives up on a connection after 5 s (a server in crash recovery may accept and not
    // answer yet), so that one stuck try does not use up the wait.
    // Its URL as the API gives it now: a server that had to be started again may have been moved to
    // another port, if its own was taken meanwhile (Docker's ports come from the ephemeral range).
    const answered = await until('it to answer again', async () => {
      const x = (await t.api('GET', `/api/v1/instances/${made.body.id}`)).body;
      if (x.status !== 'ready' || !x.connection) return null;
      const quick = new URL(x.connection.url);
      quick.searchParams.set('connect_timeout', '5');
      return psql(quick.toString(), 'select 1').catch(() => null);
    }, 120_000);
    expect(answered).toBe('1');
  });

  it('instances that failed for want of a template are provisioned by the next good import', async () => {
    await writeFile(join(t.dumpsDir, 'postgres', 'later.sql'), 'create table x (i int);\nthis is not sql;\n');
    const a = await t.api('POST', '/api/v1/instances?wait=120', { template: 'later', name: 'early-bird' });
    expect(a.body.status).toBe('failed');
    expect(a.body.error).toMatch(/its last import failed \(an admin sees why: myaas templates\)/);
    expect(a.body.error).not.toMatch(/syntax error/);
    // Asking again does not import the unchanged broken dump again.
    await t.api('POST', '/api/v1/instances?wait=30', { template: 'later', name: 'early-bird' });
    const versions = (await t.api('GET', '/api/v1/templates')).body.find((x: any) => x.name === 'later').versions;
    expect(versions).toHaveLength(1);
    await writeFile(join(t.dumpsDir, 'postgres', 'later.sql'), await chinookSql('postgres'));
    expect((await importAndWait(t, 'later')).status).toBe('ready');
    const ready = await until('the waiting instance to be ready', async () => {
      const x = (await t.api('GET', `/api/v1/instances/${a.body.id}`)).body;
      return x.status === 'ready' ? x : null;
    }, 120_000);
    expect(await psql(ready.connection.url, 'select count(*) from artist')).toBe('275');
  });
});

describe('imports that hang', () => {
  let s: TestController;
  beforeAll(async () => {
    await requireDocker();
    requirePool(POOLS.btrfs, 'btrfs');
    s = await startTestController({ dataDir: join(POOLS.btrfs, `it-hang-${process.pid}`), env: { MYAAS_IMPORT_TIMEOUT: '20s' } });
  });
  afterAll(async () => {
    if (s) await wipe(s);
  });

  it('a hanging import times out: nothing is left behind and latest stays; a cancel does the same at once', async () => {
    await mkdir(join(s.dumpsDir, 'postgres'), { recursive: true });
    await writeFile(join(s.dumpsDir, 'postgres', 'sleepy.sql'), 'create table t (i int);\nselect pg_sleep(100000);\n');
    const v = await importAndWait(s, 'sleepy', 120_000);
    expect(v.status).toBe('failed');
    expect(v.error).toMatch(/^timed out after 20\.0 s \(MYAAS_IMPORT_TIMEOUT\)/);

    const started = await s.api('POST', '/api/v1/templates/sleepy/import');
    expect(started.status).toBe(202);
    await until('the import to be loading', async () => {
      const ts = (await s.api('GET', '/api/v1/templates')).body as any[];
      return ts.find((x) => x.name === 'sleepy')?.versions.find((x: any) => x.id === started.body.version.id)?.phase?.startsWith('loading');
    });
    const cancelled = await s.api('DELETE', '/api/v1/templates/sleepy/import');
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.version).toMatchObject({ status: 'failed', error: 'cancelled by request (myaas import --cancel)' });
    expect((await s.api('DELETE', '/api/v1/templates/sleepy/import')).status).toBe(404);

    const imports = await run('docker', ['ps', '-aq', '--filter', `label=myaas.home=${s.dataDir}`, '--filter', 'label=myaas.role=import']);
    expect(imports.stdout.trim()).toBe('');
    expect(await readdir(join(s.dataDir, 'staging'))).toEqual([]);
    expect(await readdir(join(s.dataDir, 'templates', 'sleepy')).catch(() => [])).toEqual([]);
    expect((await s.api('GET', '/api/v1/templates')).body.find((x: any) => x.name === 'sleepy').latest).toBeNull();
  });
});
