// The volume plugin process on its own, on this host's real btrfs pool, spoken to over its unix
// socket the way Docker does (POST, JSON, an empty Host header): every protocol call, sealed-only
// templates, idempotent create, refusals, and state kept across a restart.
import { request } from 'node:http';
import { lstat, mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../controller/log.js';
import { createMemoryLogger } from '../helpers/webhook-fixtures.js';
import { createBtrfsStorage } from '../../controller/storage/btrfs.js';
import { createCommandRunner } from '../../controller/host/command.js';
import { createVolumePlugin, type VolumePlugin } from '../../controller/volume/index.js';
import { POOLS, requirePool, until } from '../helpers/testbed.js';

const root = join(POOLS.btrfs, `it-volplugin-${process.pid}`);
const socket = join(root, 'plugins', 'myaas.sock');
const runner = createCommandRunner();
const storage = createBtrfsStorage(runner);
const V1 = 'v20260101t000000-aaaa';
const V2 = 'v20260102t000000-bbbb';

function call(path: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? '' : JSON.stringify(body);
    const req = request(
      // Docker's plugin client sends an empty Host header.
      { socketPath: socket, path, method: 'POST', setHost: false, headers: { host: '', accept: 'application/vnd.docker.plugins.v1.2+json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) });
          } catch {
            reject(new Error(`${path} answered ${res.statusCode} with non-JSON: ${text.slice(0, 200)}`));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Flushes a folder's files to disk: a quota may refuse a write only when it reaches the disk. */
async function sync(dir: string): Promise<void> {
  const f = await open(join(dir, 'too-much'), 'r+');
  try {
    await f.sync();
  } finally {
    await f.close();
  }
}

describe('volume plugin over its socket', () => {
  let plugin: VolumePlugin;
  const start = async () => {
    plugin = createVolumePlugin({ storage, runner, dataDir: root, socketPath: socket, log: createLogger('silent') });
    await plugin.start();
  };

  beforeAll(async () => {
    requirePool(POOLS.btrfs, 'btrfs');
    // Two versions of a template: V1 sealed, V2 still "importing" (not sealed).
    await mkdir(join(root, 'templates', 'tpl'), { recursive: true });
    for (const v of [V1, V2]) {
      await storage.createVolume(join(root, 'templates', 'tpl', v));
      await writeFile(join(root, 'templates', 'tpl', v, 'PG_VERSION'), '15\n');
    }
    await storage.seal(join(root, 'templates', 'tpl', V1));
    await start();
  });

  afterAll(async () => {
    await plugin?.close();
    for (const v of await readdir(join(root, 'volumes')).catch(() => [])) await storage.remove(join(root, 'volumes', v, 'data')).catch(() => undefined);
    for (const v of [V1, V2]) await storage.remove(join(root, 'templates', 'tpl', v)).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });

  it('activates as a volume driver with local scope; the socket is owner-only', async () => {
    expect(await call('/Plugin.Activate')).toEqual({ status: 200, json: { Implements: ['VolumeDriver'] } });
    expect((await call('/VolumeDriver.Capabilities', {})).json).toEqual({ Err: '', Capabilities: { Scope: 'local' } });
    expect((await lstat(socket)).mode & 0o777).toBe(0o600);
  });

  it('creates a writable clone of a sealed version, reports it, mounts and removes it', async () => {
    expect((await call('/VolumeDriver.Create', { Name: 'one', Opts: { template: 'tpl', version: V1 } })).json).toEqual({ Err: '' });
    // Docker may ask twice for the same volume: the same request is fine.
    expect((await call('/VolumeDriver.Create', { Name: 'one', Opts: { template: 'tpl', version: V1 } })).json).toEqual({ Err: '' });
    const mountpoint = join(root, 'volumes', 'one', 'data');
    const get = (await call('/VolumeDriver.Get', { Name: 'one' })).json;
    expect(get).toMatchObject({ Err: '', Volume: { Name: 'one', Mountpoint: mountpoint, Status: { template: 'tpl', version: V1, status: 'ready', mounts: 0 } } });
    expect(Date.parse(get.Volume.CreatedAt)).toBeGreaterThan(0);
    expect((await lstat(join(root, 'volumes', 'one', 'meta.json'))).mode & 0o777).toBe(0o600);
    expect((await call('/VolumeDriver.List', {})).json.Volumes).toEqual([{ Name: 'one', Mountpoint: mountpoint, CreatedAt: get.Volume.CreatedAt }]);
    expect((await call('/VolumeDriver.Mount', { Name: 'one', ID: 'c1' })).json).toEqual({ Err: '', Mountpoint: mountpoint });
    expect((await call('/VolumeDriver.Path', { Name: 'one' })).json).toEqual({ Err: '', Mountpoint: mountpoint });
    await writeFile(join(mountpoint, 'written'), 'x');
    expect((await call('/VolumeDriver.Remove', { Name: 'one' })).json.Err).toMatch(/mounted by 1 container/);
    expect((await call('/VolumeDriver.Unmount', { Name: 'one', ID: 'c1' })).json).toEqual({ Err: '' });
    expect((await call('/VolumeDriver.Remove', { Name: 'one' })).json).toEqual({ Err: '' });
    await expect(stat(join(root, 'volumes', 'one'))).rejects.toThrow(/ENOENT/);
    // The template is untouched by the clone's write.
    await expect(stat(join(root, 'templates', 'tpl', V1, 'written'))).rejects.toThrow(/ENOENT/);
    expect((await call('/VolumeDriver.Get', { Name: 'one' })).json.Err).toMatch(/no myaas volume named one/);
  });

  it('puts a clone under a size limit (-o size): writing past it fails with a quota error; the limit goes with the volume', async () => {
    const LIMIT = 32 * 2 ** 20;
    // A size as MYAAS_DISK_LIMIT takes it (here 32m), or in bytes as the controller sends it.
    expect((await call('/VolumeDriver.Create', { Name: 'small', Opts: { template: 'tpl', version: V1, size: '32m' } })).json).toEqual({ Err: '' });
    const mountpoint = join(root, 'volumes', 'small', 'data');
    expect((await call('/VolumeDriver.Get', { Name: 'small' })).json.Volume.Status).toMatchObject({ limitBytes: LIMIT, status: 'ready' });
    // 8 MiB fits; 64 MiB more does not (simple quotas count only what the clone writes).
    await writeFile(join(mountpoint, 'fits'), Buffer.alloc(8 * 2 ** 20, 1));
    const big = Buffer.alloc(64 * 2 ** 20, 2);
    await expect(writeFile(join(mountpoint, 'too-much'), big).then(() => sync(mountpoint))).rejects.toThrow(/EDQUOT|quota|error -122/i); // EDQUOT is 122 on Linux; libuv has no name for it
    // Without -o size there is no limit: the same write succeeds.
    expect((await call('/VolumeDriver.Create', { Name: 'free', Opts: { template: 'tpl', version: V1 } })).json).toEqual({ Err: '' });
    await writeFile(join(root, 'volumes', 'free', 'data', 'big'), big);
    expect((await call('/VolumeDriver.Get', { Name: 'free' })).json.Volume.Status.limitBytes).toBeNull();
    for (const v of ['small', 'free']) expect((await call('/VolumeDriver.Remove', { Name: v })).json).toEqual({ Err: '' });
    const err = async (size: unknown) => (await call('/VolumeDriver.Create', { Name: 'x', Opts: { template: 'tpl', version: V1, size } })).json.Err as string;
    expect(await err('lots')).toMatch(/-o size="lots" is not a size of at least 16 MiB/);
    expect(await err('1024')).toMatch(/at least 16 MiB/);
    expect(await err('1m')).toMatch(/at least 16 MiB/);
  });

  it('refuses what it cannot do, saying why', async () => {
    const err = async (path: string, body: unknown) => (await call(path, body)).json.Err as string;
    expect(await err('/VolumeDriver.Create', { Name: 'x', Opts: { template: 'tpl', version: V2 } })).toMatch(/not sealed on this node yet/);
    expect(await err('/VolumeDriver.Create', { Name: 'x', Opts: { template: 'tpl', version: 'v20990101t000000-none' } })).toMatch(/is not on this node/);
    expect(await err('/VolumeDriver.Create', { Name: 'x', Opts: { template: 'Bad Name', version: V1 } })).toMatch(/invalid template name/);
    expect(await err('/VolumeDriver.Create', { Name: '../x', Opts: { template: 'tpl', version: V1 } })).toMatch(/invalid volume name/);
    expect(await err('/VolumeDriver.Create', { Name: 'x', Opts: { template: 'tpl', version: V1, mode: 'rw' } })).toMatch(/unknown option\(s\) mode/);
    expect(await err('/VolumeDriver.Create', { Name: 'x' })).toMatch(/needs -o template=<name> and -o version=<id>/);
    expect((await call('/VolumeDriver.Create', { Name: 'x', Opts: { template: 'tpl', version: V1 } })).json.Err).toBe('');
    expect(await err('/VolumeDriver.Create', { Name: 'x', Opts: { template: 'tpl', version: 'v20260101t000000-cccc' } })).toMatch(/exists as a clone of tpl/);
    expect(await err('/VolumeDriver.Mount', { Name: 'nope', ID: 'c' })).toMatch(/no myaas volume named nope/);
    expect((await call('/Not.AThing', {})).status).toBe(404);
    expect((await call('/VolumeDriver.Remove', { Name: 'x' })).json.Err).toBe('');
  });

  it('knows its volumes after a restart, and clears a half-built one a crash left', async () => {
    expect((await call('/VolumeDriver.Create', { Name: 'kept', Opts: { template: 'tpl', version: V1 } })).json.Err).toBe('');
    await plugin.close();
    // What a crash in the middle of a create leaves: a building folder with a clone in it.
    const half = join(root, 'volumes', '.building-lost-0000');
    await mkdir(half);
    await storage.clone(join(root, 'templates', 'tpl', V1), join(half, 'data'));
    await start();
    await expect(stat(half)).rejects.toThrow(/ENOENT/);
    expect((await call('/VolumeDriver.List', {})).json.Volumes.map((v: { Name: string }) => v.Name)).toEqual(['kept']);
    expect((await call('/VolumeDriver.Get', { Name: 'kept' })).json.Volume.Status).toMatchObject({ template: 'tpl', version: V1, status: 'ready' });
    // A second plugin on the same socket is refused while this one serves.
    const other = createVolumePlugin({ storage, runner, dataDir: root, socketPath: socket, log: createLogger('silent') });
    await expect(other.start()).rejects.toThrow(/already serves/);
    expect((await call('/VolumeDriver.Remove', { Name: 'kept' })).json.Err).toBe('');
  });
});

describe('volume plugin: the node\'s isolation rules (MYAAS_NODE_ISOLATE)', () => {
  it('applies them at start and again and again; a failure (Docker not started yet) is said once and its end too', async () => {
    const log = createMemoryLogger();
    const results = [new Error('iptables has no DOCKER-USER chain yet'), new Error('iptables has no DOCKER-USER chain yet'), null, null];
    let calls = 0;
    const apply = async () => {
      const r = results[Math.min(calls++, results.length - 1)];
      if (r) throw r;
    };
    const dir = join(POOLS.btrfs, `it-volplugin-iso-${process.pid}`);
    const p = createVolumePlugin({ storage, runner, dataDir: dir, socketPath: join(dir, 'plugins', 'myaas.sock'), log, isolation: { bridge: 'docker0', apply }, isolateEveryMs: 50 });
    await p.start();
    try {
      await until('the rules in place again', async () => calls >= 4, 10_000);
    } finally {
      await p.close();
      await rm(dir, { recursive: true, force: true });
    }
    const said = log.lines.map((l) => l.msg ?? '');
    expect(said.filter((m) => m.startsWith('could not put the instance isolation rules in place'))).toHaveLength(1);
    expect(said.filter((m) => m === 'instance isolation rules in place again')).toHaveLength(1);
    // Closed: no more tries.
    const after = calls;
    await new Promise((r) => setTimeout(r, 200));
    expect(calls).toBe(after);
  });
});
