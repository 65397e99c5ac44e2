// Disk (issue 9, item 8): an instance that writes past MYAAS_DISK_LIMIT gets a disk-full error in that
// instance only, while another instance, a running import and the controller keep working; below
// MYAAS_DISK_RESERVE new instances and imports are refused with 507; the pool is shown in /healthz,
// /metrics and `myaas templates`. On a private btrfs pool, so that quotas and a full pool stay here.
import { execFile } from 'node:child_process';
import { copyFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChinookDumps, importAndWait, startTestController, TOKEN, wipe, type TestController } from '../helpers/controller.js';
import { dropIsolatedNetwork } from '../helpers/isolation.js';
import { cleanupAll, makePrivatePool, type PrivatePool } from '../helpers/private-pool.js';
import { psql, requireDocker } from '../helpers/testbed.js';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LIMIT = 160 * 2 ** 20;

describe('per-instance disk limits and the pool reserve', () => {
  let pool: PrivatePool | null = null;
  let t: TestController | null = null;

  const env = (more: Record<string, string> = {}) => ({ MYAAS_DISK_LIMIT: '160m', MYAAS_DISK_RESERVE: '256m', MYAAS_DOCKER_NETWORK: `myaas-quota-${process.pid}`, ...more });

  beforeAll(async () => {
    await requireDocker();
    pool = await makePrivatePool('btrfs', '4G', 'quota');
    t = await startTestController({ dataDir: join(pool.dir, 'data'), env: env() });
    await addChinookDumps(t.dumpsDir);
    await copyFile(join(t.dumpsDir, 'postgres', 'chinook.sql'), join(t.dumpsDir, 'postgres', 'second.sql'));
    const v = await importAndWait(t, 'chinook');
    if (v.status !== 'ready') throw new Error(`import failed: ${v.error}`);
  });

  afterAll(async () => {
    await cleanupAll([() => t && wipe(t), () => dropIsolatedNetwork(`myaas-quota-${process.pid}`), () => pool?.close()]);
  });

  it('stops an instance at its limit with a disk-full error while the others, an import and the controller go on', async () => {
    const health = (await t!.api('GET', '/healthz')).body;
    expect(health.disk).toMatchObject({ limitBytes: LIMIT, quota: 'squota', reserveBytes: 256 * 2 ** 20 });
    const [a, b] = await Promise.all(['greedy', 'modest'].map((name) => t!.api('POST', '/api/v1/instances?wait=90', { template: 'chinook', name })));
    expect(a.body.status, a.body.error).toBe('ready');
    expect(b.body.status, b.body.error).toBe('ready');
    const freeBefore = health.disk.freeBytes as number;

    // An import runs while the greedy instance writes about 400 MB, more than twice its limit.
    const importing = importAndWait(t!, 'second');
    const write = psql(a.body.connection.url, "create table big as select g, repeat(md5(g::text), 30) as pad from generate_series(1, 400000) g");
    // The statement fails with the quota error, or the server stops on a WAL write it cannot make
    // (its backend, or another process of it that PANICs, restarting them all).
    await expect(write).rejects.toThrow(/Disk quota exceeded|No space left on device|could not extend file|Check free disk space|server closed the connection unexpectedly|crash of another server process/);

    // The other instance writes and reads as before.
    const ub = b.body.connection.url;
    await psql(ub, 'create table notes as select g from generate_series(1, 50000) g');
    expect(await psql(ub, 'select count(*) from notes')).toBe('50000');
    expect(await psql(ub, 'select count(*) from track')).toBe('3503');
    // The import finished and its version serves a new instance.
    const v = await importing;
    expect(v.status, v.error).toBe('ready');
    const c = await t!.api('POST', '/api/v1/instances?wait=90', { template: 'second', name: 'after' });
    expect(c.body.status, c.body.error).toBe('ready');
    // The pool lost at most about one limit's worth to the greedy instance (unbounded, its table and
    // WAL would have taken some 800 MB).
    const after = (await t!.api('GET', '/healthz')).body;
    expect(after.ok).toBe(true);
    expect(freeBefore - after.disk.freeBytes).toBeLessThan(LIMIT + 150 * 2 ** 20);
    const metrics = await fetch(`${t!.url}/api/v1/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => r.text());
    expect(metrics).toMatch(/^myaas_pool_free_bytes(\{[^}]*\})? \d+$/m);
    expect(metrics).toMatch(new RegExp(`^myaas_instance_disk_limit_bytes ${LIMIT}$`, 'm'));
    // PostgreSQL stops when it cannot write its WAL, and cannot finish recovery at the limit: the
    // greedy instance is reset or destroyed by its owner. Destroy works even at the limit.
    for (const i of [a, b, c]) expect((await t!.api('DELETE', `/api/v1/instances/${i.body.id}?wait=60`)).body.status).toBe('destroyed');
  });

  it('refuses new instances and imports with 507 below the reserve, and says so in myaas templates', async () => {
    const dataDir = t!.dataDir;
    await t!.stop();
    // 99% of the pool as reserve: the free space is below it now.
    t = await startTestController({ dataDir, env: env({ MYAAS_DISK_RESERVE: '99%' }) });
    const create = await t.api('POST', '/api/v1/instances', { template: 'chinook', name: 'refused' });
    expect(create.status).toBe(507);
    expect(create.body.error.code).toBe('insufficient_storage');
    expect(create.body.error.message).toMatch(/a new instance is refused: the storage pool at .* free of .*MYAAS_DISK_RESERVE/);
    const imp = await t.api('POST', '/api/v1/templates/chinook/import');
    expect(imp.status).toBe(507);
    expect(imp.body.error.message).toMatch(/an import of chinook is refused/);
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', 'controller/cli.ts', 'templates'], {
      cwd: ROOT, env: { ...process.env, MYAAS_URL: t.url, MYAAS_TOKEN: TOKEN },
    });
    expect(stdout).toMatch(/^pool: [\d.]+ GiB free of [\d.]+ GiB, reserve [\d.]+ GiB — below the reserve: new instances and imports are refused; 0\.2 GiB per instance \(squota\)$/m);
    expect((await t.api('GET', '/api/v1/instances')).body.filter((i: any) => i.name === 'refused')).toEqual([]);
  });
});
