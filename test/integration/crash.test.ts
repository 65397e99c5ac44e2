// kill -9 of the controller in the middle of provisioning and of importing: started again, it
// converges, and nothing is leaked.
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../../controller/runtime/index.js';
import { createCommandRunner } from '../../controller/host/command.js';
import { createStorage } from '../../controller/storage/index.js';
import { addChinookDumps } from '../helpers/controller.js';
import { freeTcpPort, spawnController, type ControllerProcess } from '../helpers/process.js';
import { POOLS, psql, requireDocker, requirePool, until } from '../helpers/testbed.js';

const dataDir = join(POOLS.btrfs, `it-crash-${process.pid}`);
const runtime = createRuntime('docker');
const storage = createStorage('btrfs', createCommandRunner());
let port: number;
let c: ControllerProcess | null = null;

const containers = (labels: Record<string, string> = {}) => runtime.list({ 'myaas.home': dataDir, ...labels });
const versionOf = async (template: string, id: string) =>
  ((await c!.api('GET', '/api/v1/templates')).body as any[]).find((t) => t.name === template)?.versions.find((v: any) => v.id === id);

describe('controller killed with SIGKILL', () => {
  beforeAll(async () => {
    await requireDocker();
    requirePool(POOLS.btrfs, 'btrfs');
    await addChinookDumps(join(dataDir, 'dumps'));
    port = await freeTcpPort();
    c = await spawnController(dataDir, port);
  });
  afterAll(async () => {
    await c?.kill9();
    for (const x of await containers()) await runtime.remove(x.id);
    for (const d of await readdir(join(dataDir, 'instances')).catch(() => [])) await storage.remove(join(dataDir, 'instances', d));
    for (const t of await readdir(join(dataDir, 'templates')).catch(() => [])) {
      for (const v of await readdir(join(dataDir, 'templates', t))) await storage.remove(join(dataDir, 'templates', t, v));
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it('during an import: the version is marked interrupted, its leftovers removed, latest kept', async () => {
    const first = await c!.api('POST', '/api/v1/templates/chinook/import');
    const good = await until('first import', async () => {
      const v = await versionOf('chinook', first.body.version.id);
      return v?.status === 'ready' && v;
    });
    // A slow after-script keeps the second import busy long enough to kill it mid-way.
    await writeFile(join(dataDir, 'dumps', 'postgres', 'chinook.after.sql'), 'select pg_sleep(30);\n');
    const second = await c!.api('POST', '/api/v1/templates/chinook/import');
    const vid = second.body.version.id;
    await until('the after-script phase', async () => (await versionOf('chinook', vid))?.phase?.startsWith('running'));
    expect(await containers({ 'myaas.version': vid })).toHaveLength(1);
    await c!.kill9();

    await rm(join(dataDir, 'dumps', 'postgres', 'chinook.after.sql'));
    c = await spawnController(dataDir, port);
    const v = await versionOf('chinook', vid);
    expect(v.status).toBe('failed');
    expect(v.error).toMatch(/interrupted/);
    const t = ((await c.api('GET', '/api/v1/templates')).body as any[]).find((x) => x.name === 'chinook');
    expect(t.latest).toBe(good.id);
    expect(await containers({ 'myaas.role': 'import' })).toEqual([]);
    expect(await readdir(join(dataDir, 'templates', 'chinook'))).toEqual([good.id]);
    expect(await readdir(join(dataDir, 'staging'))).toEqual([]);
  });

  it('during provisioning: the instance comes up after the restart, and destroy leaves nothing', async () => {
    // Killed right after the request was recorded, before or while cloning.
    const a = await c!.api('POST', '/api/v1/instances', { template: 'chinook', name: 'early' });
    expect(a.status).toBe(201);
    await c!.kill9();
    c = await spawnController(dataDir, port);
    const ra = await c.api('GET', `/api/v1/instances/${a.body.id}?wait=60`);
    expect(ra.body.status, ra.body.error).toBe('ready');
    expect(await psql(ra.body.connection.url, 'select count(*) from artist')).toBe('275');

    // Killed once the container exists, before the password rotation and readiness probe finished.
    const b = await c.api('POST', '/api/v1/instances', { template: 'chinook', name: 'late' });
    await until('the instance container', async () => (await containers({ 'myaas.instance': b.body.id })).length > 0, 30_000);
    await c.kill9();
    c = await spawnController(dataDir, port);
    const rb = await c.api('GET', `/api/v1/instances/${b.body.id}?wait=60`);
    expect(rb.body.status, rb.body.error).toBe('ready');
    expect(await psql(rb.body.connection.url, 'select count(*) from artist')).toBe('275');
    expect(await containers({ 'myaas.role': 'instance' })).toHaveLength(2);

    // Killed in the middle of destroying: the restart finishes the job.
    await c.api('DELETE', `/api/v1/instances/${a.body.id}`);
    await c.kill9();
    c = await spawnController(dataDir, port);
    await until('the destroy to finish', async () => (await c!.api('GET', `/api/v1/instances/${a.body.id}`)).body.status === 'destroyed');
    expect((await c.api('DELETE', `/api/v1/instances/${b.body.id}?wait=60`)).body.status).toBe('destroyed');
    expect(await containers({ 'myaas.role': 'instance' })).toEqual([]);
    expect(await readdir(join(dataDir, 'instances'))).toEqual([]);
  });

  it('restarts a ready instance whose container vanished, on the same data, port and password', async () => {
    const r = await c!.api('POST', '/api/v1/instances?wait=60', { template: 'chinook', name: 'survivor' });
    expect(r.body.status, r.body.error).toBe('ready');
    await psql(r.body.connection.url, 'create table kept as select 42 as answer');
    await c!.kill9();
    for (const x of await containers({ 'myaas.instance': r.body.id })) await runtime.remove(x.id);
    c = await spawnController(dataDir, port);
    const again = await c.api('GET', `/api/v1/instances/${r.body.id}?wait=60`);
    expect(again.body.status, again.body.error).toBe('ready');
    expect(again.body.connection.url).toBe(r.body.connection.url);
    expect(await psql(r.body.connection.url, 'select answer from kept')).toBe('42');
    expect((await c.api('DELETE', `/api/v1/instances/${r.body.id}?wait=60`)).body.status).toBe('destroyed');
  });

  it('removes containers and clones that the state DB does not know (orphans)', async () => {
    await c!.kill9();
    // An orphan clone and an orphan container, as a crash between steps could leave them.
    const orphan = join(dataDir, 'instances', 'iorphan00001');
    const [version] = await readdir(join(dataDir, 'templates', 'chinook'));
    await storage.clone(join(dataDir, 'templates', 'chinook', version), orphan);
    const img = (await import('../helpers/testbed.js')).IMAGES.postgres;
    await runtime.start({ name: `myaas-test-orphan-${process.pid}`, image: img, cmd: ['sleep', '300'], user: '999:999', labels: { 'myaas.home': dataDir, 'myaas.role': 'instance', 'myaas.instance': 'iorphan00001' }, binds: [] });
    c = await spawnController(dataDir, port);
    expect(await containers()).toEqual([]);
    expect(await readdir(join(dataDir, 'instances'))).toEqual([]);
  });
});
