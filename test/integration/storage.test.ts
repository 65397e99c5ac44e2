// The storage drivers against the real pools: btrfs and copy on the btrfs pool, reflink on XFS.
// Runs as root, as the controller does, because sealing must hold even against root.
import { createHash } from 'node:crypto';
import {
  appendFile, chmod, chown, lchown, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, unlink, writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StorageName } from '../../controller/domain/types.js';
import { createCommandRunner } from '../../controller/host/command.js';
import { fsTypeOf } from '../../controller/storage/common.js';
import { checkStorage, detectStorage } from '../../controller/storage/detect.js';
import { createStorage, resolveStorage } from '../../controller/storage/index.js';
import type { Storage } from '../../controller/storage/storage.js';

const runner = createCommandRunner();
const BTRFS_DIR = process.env.MYAAS_TEST_BTRFS_DIR || '/var/lib/myaas';
const XFS_DIR = process.env.MYAAS_TEST_XFS_DIR || '/var/lib/myaas-xfs';

/** A missing pool is a broken test bed, not a reason to skip: fail and say how to make it. */
async function expectPool(dir: string, fs: string): Promise<void> {
  const found = await fsTypeOf(dir).catch((e: Error) => `missing (${e.message})`);
  if (found !== fs) {
    throw new Error(`${dir} should be a ${fs} pool but is ${found}: run sudo scripts/setup-host.sh to create and mount the pools`);
  }
}

/**
 * vitest reports the tests of a suite whose beforeAll threw as skipped; hold the error and throw it
 * from beforeEach instead, so that every test of a broken test bed fails with the reason.
 */
function failEveryTestIfSetupFails(setup: () => Promise<void>): void {
  let problem: unknown;
  beforeAll(async () => {
    await setup().catch((e: unknown) => {
      problem = e;
    });
  });
  beforeEach(() => {
    if (problem) throw problem;
  });
}
const UID = 999;

// The tree a template datadir might hold: private dirs, files of several modes, a symlink.
const FILES: Record<string, { mode: number; data: Buffer }> = {
  PG_VERSION: { mode: 0o600, data: Buffer.from('15\n') },
  'postgresql.conf': { mode: 0o644, data: Buffer.from('shared_buffers = 128MB\n') },
  'bin.sh': { mode: 0o750, data: Buffer.from('#!/bin/sh\n') },
  'base/16384/1259': { mode: 0o600, data: Buffer.alloc(64 * 1024, 7) },
};
const DIRS: Record<string, number> = { base: 0o700, 'base/16384': 0o700 };
const TOTAL = Object.values(FILES).reduce((n, f) => n + f.data.length, 0);

async function fillVolume(root: string): Promise<void> {
  for (const [rel, mode] of Object.entries(DIRS)) {
    await mkdir(path.join(root, rel));
    await chmod(path.join(root, rel), mode);
    await chown(path.join(root, rel), UID, UID);
  }
  for (const [rel, f] of Object.entries(FILES)) {
    await writeFile(path.join(root, rel), f.data);
    await chmod(path.join(root, rel), f.mode);
    await chown(path.join(root, rel), UID, UID);
  }
  await symlink('base', path.join(root, 'pg_wal'));
  await lchown(path.join(root, 'pg_wal'), UID, UID);
  await chmod(root, 0o700);
  await chown(root, UID, UID);
}

/** Every entry below `root` as `kind mode uid:gid content`, to compare trees exactly. */
async function describeTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const rel of ['', ...(await readdir(root, { recursive: true }))].sort()) {
    const p = path.join(root, rel);
    const st = await lstat(p);
    const owner = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    if (st.isSymbolicLink()) out[rel] = `link ${owner} -> ${await readlink(p)}`;
    else if (st.isDirectory()) out[rel] = `dir ${owner}`;
    else out[rel] = `file ${owner} ${createHash('sha256').update(await readFile(p)).digest('hex')}`;
  }
  return out;
}

const REFUSED = { code: expect.stringMatching(/^(EPERM|EROFS|EACCES)$/) };

const CASES: { driver: StorageName; pool: () => string; fs: string }[] = [
  { driver: 'btrfs', pool: () => BTRFS_DIR, fs: 'btrfs' },
  { driver: 'reflink', pool: () => XFS_DIR, fs: 'xfs' },
  { driver: 'copy', pool: () => BTRFS_DIR, fs: 'btrfs' },
];

describe.each(CASES)('$driver storage', ({ driver, pool, fs }) => {
  let storage: Storage;
  let base: string;
  let src: string;
  let dst: string;
  let original: Record<string, string>;

  failEveryTestIfSetupFails(async () => {
    expect(process.getuid?.(), 'storage tests run as root, like the controller').toBe(0);
    await expectPool(pool(), fs);
    storage = createStorage(driver, runner);
    base = await mkdtemp(path.join(pool(), `test-storage-${driver}-`));
    src = path.join(base, 'template');
    dst = path.join(base, 'instance');
  });

  afterAll(async () => {
    if (!base) return;
    for (const p of [dst, src, path.join(base, 'leftover')]) await storage.remove(p).catch(() => undefined);
    // If a failed test left sealed files behind, unseal them so that the pool is left clean anyway.
    await runner.run('chattr', ['-R', '-f', '-i', base]).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  });

  it('creates a volume and seals it so that even root cannot change it', async () => {
    await storage.createVolume(src);
    await fillVolume(src);
    original = await describeTree(src);
    await storage.seal(src);

    expect(await describeTree(src)).toEqual(original);
    await expect(appendFile(path.join(src, 'PG_VERSION'), 'x')).rejects.toMatchObject(REFUSED);
    await expect(writeFile(path.join(src, 'new-file'), 'x')).rejects.toMatchObject(REFUSED);
    await expect(writeFile(path.join(src, 'base/16384/new-file'), 'x')).rejects.toMatchObject(REFUSED);
    await expect(unlink(path.join(src, 'postgresql.conf'))).rejects.toMatchObject(REFUSED);
    await expect(unlink(path.join(src, 'pg_wal'))).rejects.toMatchObject(REFUSED);
    await expect(mkdir(path.join(src, 'base/x'))).rejects.toMatchObject(REFUSED);
    await expect(chmod(path.join(src, 'PG_VERSION'), 0o666)).rejects.toMatchObject(REFUSED);
    expect(await describeTree(src)).toEqual(original);
  });

  it('refuses to create over an existing path', async () => {
    await expect(storage.createVolume(src)).rejects.toMatchObject({ code: 'conflict' });
  });

  it('clones into a writable volume that keeps ownership and modes, leaving the source unchanged', async () => {
    await storage.clone(src, dst);
    expect(await describeTree(dst)).toEqual(original);

    await appendFile(path.join(dst, 'PG_VERSION'), 'changed');
    await writeFile(path.join(dst, 'base/16384/2600'), 'new');
    await rm(path.join(dst, 'postgresql.conf'));
    await mkdir(path.join(dst, 'pg_stat_tmp'));
    await chmod(path.join(dst, 'bin.sh'), 0o700);

    expect(await readFile(path.join(dst, 'PG_VERSION'), 'utf8')).toBe('15\nchanged');
    expect(await readFile(path.join(dst, 'base/16384/2600'), 'utf8')).toBe('new');
    expect(await describeTree(src)).toEqual(original);
    expect(await readFile(path.join(src, 'PG_VERSION'), 'utf8')).toBe('15\n');
  });

  it(driver === 'copy' ? 'copies the blocks' : 'shares the blocks with the source', async () => {
    const file = path.join(dst, 'base/16384/1259');
    await runner.run('sync', ['-f', file]);
    const { stdout } = await runner.run('filefrag', ['-v', file]);
    expect(stdout.includes('shared')).toBe(driver !== 'copy');
    if (driver === 'btrfs') expect((await lstat(dst)).ino).toBe(256); // a subvolume of its own
  });

  it('refuses to clone onto an existing volume rather than nesting into it', async () => {
    await expect(storage.clone(src, dst)).rejects.toMatchObject({ code: 'conflict' });
    expect(await readdir(dst)).not.toContain('template');
  });

  it('measures the apparent size of the files', async () => {
    expect(await storage.size(src)).toBe(TOTAL);
    const conf = FILES['postgresql.conf'].data.length;
    expect(await storage.size(dst)).toBe(TOTAL + 'changed'.length + 'new'.length - conf);
  });

  it('removes the clone and the sealed source, and missing volumes are no error', async () => {
    await storage.remove(dst);
    await storage.remove(src);
    await expect(lstat(dst)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(lstat(src)).rejects.toMatchObject({ code: 'ENOENT' });
    await storage.remove(src);
    expect(await readdir(base)).toEqual([]);
  });

  it('removes a plain directory left at a volume path (with a sealed file for cp-based drivers)', async () => {
    const leftover = path.join(base, 'leftover');
    await mkdir(path.join(leftover, 'sub'), { recursive: true });
    await writeFile(path.join(leftover, 'sub/file'), 'x');
    if (driver !== 'btrfs') await runner.run('chattr', ['+i', path.join(leftover, 'sub/file')]);
    await storage.remove(leftover);
    expect(await readdir(base)).toEqual([]);
  });

  it('refuses paths that are relative, unnormalised or too close to /', async () => {
    for (const bad of ['relative/dir', `${base}/../x`, `${base}/`, '/var', '/']) {
      await expect(storage.remove(bad)).rejects.toMatchObject({ code: 'internal' });
    }
  });
});

describe('storage detection', () => {
  let tmpfs: string | undefined;
  let mounted = false;
  const fresh: string[] = [];

  // A fresh empty dir per check, so that leftover probe files would show.
  async function freshDir(parent: string): Promise<string> {
    const dir = await mkdtemp(path.join(parent, 'test-detect-'));
    fresh.push(dir);
    return dir;
  }

  failEveryTestIfSetupFails(async () => {
    expect(process.getuid?.(), 'storage tests run as root, like the controller').toBe(0);
    await expectPool(BTRFS_DIR, 'btrfs');
    await expectPool(XFS_DIR, 'xfs');
    tmpfs = await mkdtemp('/tmp/myaas-test-tmpfs-');
    await runner.run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'myaas-test', tmpfs]);
    mounted = true;
  });

  afterAll(async () => {
    for (const dir of fresh) await rm(dir, { recursive: true, force: true });
    if (mounted && tmpfs) await runner.run('umount', [tmpfs]);
    if (tmpfs) await rm(tmpfs, { recursive: true, force: true });
  });

  it('picks btrfs on the btrfs pool and reflink on the XFS pool, leaving no probe files', async () => {
    const b = await freshDir(BTRFS_DIR);
    const x = await freshDir(XFS_DIR);
    expect(await detectStorage(b, runner)).toBe('btrfs');
    expect(await detectStorage(x, runner)).toBe('reflink');
    expect(await readdir(x)).toEqual([]);
    expect((await resolveStorage('auto', x, runner)).name).toBe('reflink');
  });

  it('creates a missing data dir before looking at it', async () => {
    const dir = path.join(await freshDir(XFS_DIR), 'not', 'yet');
    expect(await detectStorage(dir, runner)).toBe('reflink');
    expect((await lstat(dir)).isDirectory()).toBe(true);
  });

  it('refuses a filesystem without copy-on-write, never falling back to copy', async () => {
    const dir = tmpfs as string;
    const refused = detectStorage(dir, runner);
    await expect(refused).rejects.toMatchObject({ code: 'storage_unavailable' });
    const message = await refused.catch((e: Error) => e.message);
    expect(message).toContain('tmpfs');
    expect(message).toContain('scripts/setup-host.sh');
    expect(message).toContain('MYAAS_STORAGE=copy');
    expect(await readdir(dir)).toEqual([]);
    await expect(resolveStorage('auto', dir, runner)).rejects.toMatchObject({ code: 'storage_unavailable' });
  });

  it('fails a reflink clone loudly where reflinks are unsupported, leaving no half-made clone', async () => {
    const src = path.join(tmpfs as string, 'template');
    const dst = path.join(tmpfs as string, 'instance');
    await mkdir(src);
    await writeFile(path.join(src, 'data'), 'x');
    try {
      await expect(createStorage('reflink', runner).clone(src, dst)).rejects.toMatchObject({
        code: 'storage_unavailable',
        message: expect.stringContaining('MYAAS_STORAGE=copy'),
      });
      await expect(lstat(dst)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await rm(src, { recursive: true, force: true });
    }
  });

  it('checks an explicit choice against the data dir', async () => {
    const x = await freshDir(XFS_DIR);
    const b = await freshDir(BTRFS_DIR);
    const dir = tmpfs as string;
    await expect(checkStorage('btrfs', x, runner)).rejects.toMatchObject({
      code: 'storage_unavailable',
      message: expect.stringMatching(/on xfs, not btrfs.*scripts\/setup-host\.sh/),
    });
    await expect(checkStorage('reflink', dir, runner)).rejects.toMatchObject({
      code: 'storage_unavailable',
      message: expect.stringContaining('MYAAS_STORAGE=copy'),
    });
    await expect(checkStorage('zfs', x, runner)).rejects.toMatchObject({ code: 'storage_unavailable' });
    await checkStorage('btrfs', b, runner);
    await checkStorage('reflink', b, runner); // btrfs makes reflinks too
    await checkStorage('reflink', x, runner);
    await checkStorage('copy', dir, runner);
    expect((await resolveStorage('copy', dir, runner)).name).toBe('copy');
    expect((await resolveStorage('btrfs', b, runner)).name).toBe('btrfs');
    expect(await readdir(dir)).toEqual([]);
  });
});
