// A full disk during an import: a clear 507-class error on the version, nothing left in the pool,
// latest untouched. Uses its own small XFS pool so the shared pools never fill up.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importAndWait, leftovers, startTestController, wipe, type TestController } from '../helpers/controller.js';
import { requireDocker } from '../helpers/testbed.js';

const run = promisify(execFile);

describe('disk full during an import', () => {
  let root: string;
  let mnt: string;
  let t: TestController | null = null;

  beforeAll(async () => {
    await requireDocker();
    root = await mkdtemp(join(tmpdir(), 'myaas-full-'));
    mnt = join(root, 'pool');
    await mkdir(mnt);
    await run('truncate', ['-s', '320M', join(root, 'pool.img')]);
    await run('mkfs.xfs', ['-q', '-m', 'reflink=1', join(root, 'pool.img')]);
    await run('mount', ['-o', 'loop', join(root, 'pool.img'), mnt]);
    t = await startTestController({ dataDir: join(mnt, 'data') });
  });
  afterAll(async () => {
    if (t) await wipe(t);
    await run('umount', [mnt]).catch(() => {});
    await rm(root, { recursive: true, force: true });
  });

  it('fails the import with what to do, removes its datadir, and keeps the previous latest', async () => {
    const dumps = join(t!.dumpsDir, 'postgres');
    await mkdir(dumps, { recursive: true });
    await writeFile(join(dumps, 'grow.sql'), 'create table small as select g from generate_series(1, 1000) g;\n');
    const good = await importAndWait(t!, 'grow');
    expect(good.status, good.error).toBe('ready');
    // About 600 MB of rows: more than the pool holds.
    await writeFile(join(dumps, 'grow.sql'), "create table big as select g, repeat(md5(g::text), 20) as pad from generate_series(1, 1000000) g;\n");
    const v = await importAndWait(t!, 'grow');
    expect(v.status).toBe('failed');
    expect(v.error).toMatch(/storage pool is full.*free space or grow the pool/s);
    const tpl = ((await t!.api('GET', '/api/v1/templates')).body as any[]).find((x) => x.name === 'grow');
    expect(tpl.latest).toBe(good.id);
    expect(await readdir(join(t!.dataDir, 'templates', 'grow'))).toEqual([good.id]);
    expect(await leftovers(t!)).toEqual({ containers: [], clones: [], staging: [] });
    const inst = await t!.api('POST', '/api/v1/instances?wait=60', { template: 'grow', name: 'after-full' });
    expect(inst.body.status, inst.body.error).toBe('ready');
    expect((await t!.api('DELETE', `/api/v1/instances/${inst.body.id}?wait=60`)).body.status).toBe('destroyed');
  });
});
