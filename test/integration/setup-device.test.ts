// scripts/setup-host.sh on a real block device, with a loop device standing in for the disk: its own
// image files, mount points and a scratch fstab (MYAAS_FSTAB), all under one work dir removed afterwards.
// What a reboot does to the pool is played by detaching the device and mounting from the fstab alone.
import { execFile } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/testbed.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/setup-host.sh', import.meta.url));
const work = `/var/tmp/myaas-it-device-${process.pid}`;
const fstab = join(work, 'fstab');
const dataDir = join(work, 'pool');
const MAGIC = { btrfs: 0x9123683e, xfs: 0x58465342 };
const OTHER_LINE = 'UUID=0a0b0c0d-0000-4000-8000-000000000001 /srv/elsewhere ext4 defaults 0 2';
const OPTS = 'defaults,nofail,x-systemd.before=docker.service';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** setup-host.sh with this test's data dir and fstab; engine images are not its business here. */
function setupHost(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile('bash', [SCRIPT, ...args], {
      env: { ...process.env, MYAAS_DATA_DIR: dataDir, MYAAS_FSTAB: fstab, MYAAS_SKIP_IMAGES: '1', ...env },
      timeout: 300_000,
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
  });
}

const sh = async (cmd: string, args: string[]) => (await run(cmd, args)).stdout.trim();
const blkid = (dev: string, tag: string) => sh('blkid', ['-p', '-s', tag, '-o', 'value', dev]);
const source = (dir: string) => sh('findmnt', ['-nro', 'SOURCE', '--mountpoint', dir]).catch(() => '');
const fsMagic = (dir: string) => statfsSync(dir).type;

async function loopDevice(file: string, size: string): Promise<string> {
  await run('truncate', ['-s', size, file]);
  return sh('losetup', ['--find', '--show', file]);
}

describe('setup-host.sh --device', () => {
  let dev = '';
  let uuid = '';

  beforeAll(async () => {
    await mkdir(work, { recursive: true });
    await writeFile(fstab, `# the host's own entries\n${OTHER_LINE}\n`);
    dev = await loopDevice(join(work, 'disk.img'), '1G');
  });

  afterAll(async () => {
    // Every mount below the work dir (deepest first), then every loop device backed by its files.
    const mounts = (await sh('findmnt', ['-nro', 'TARGET']).catch(() => '')).split('\n').filter((m) => m.startsWith(`${work}/`));
    for (const m of mounts.sort().reverse()) await run('umount', [m]).catch(() => {});
    const loops = (await sh('losetup', ['-nO', 'NAME,BACK-FILE']).catch(() => '')).split('\n');
    for (const l of loops) {
      const [name, file] = l.trim().split(/\s+/);
      if (file?.startsWith(`${work}/`)) await run('losetup', ['-d', name]).catch(() => {});
    }
    await rm(work, { recursive: true, force: true });
  });

  it('refuses a path that is not a block device', async () => {
    const r = await setupHost(['--device', join(work, 'disk.img')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is not a block device');
  });

  it('refuses a device that already holds a filesystem, and touches nothing', async () => {
    await run('mkfs.ext4', ['-q', '-F', dev]);
    const before = await blkid(dev, 'UUID');
    const r = await setupHost(['--device', dev]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not empty: it holds ext4 \(UUID [0-9a-f-]+\)\. Refusing to overwrite it; pass --force/);
    expect(await blkid(dev, 'TYPE')).toBe('ext4');
    expect(await blkid(dev, 'UUID')).toBe(before);
    expect(await readFile(fstab, 'utf8')).toBe(`# the host's own entries\n${OTHER_LINE}\n`);
    expect(await source(dataDir)).toBe('');
  });

  it('with --force: makes btrfs, adds an fstab entry by UUID and mounts the pool through it', async () => {
    const r = await setupHost(['--device', dev, '--force']);
    expect(r.code, r.stderr).toBe(0);
    uuid = await blkid(dev, 'UUID');
    expect(await blkid(dev, 'TYPE')).toBe('btrfs');
    expect(fsMagic(dataDir)).toBe(MAGIC.btrfs);
    expect(await source(dataDir)).toMatch(new RegExp(`^${dev}(\\[/\\])?$`));
    expect(await readFile(fstab, 'utf8')).toBe(
      `# the host's own entries\n${OTHER_LINE}\n# myaas storage pool at ${dataDir} (scripts/setup-host.sh)\nUUID=${uuid} ${dataDir} btrfs ${OPTS} 0 0\n`,
    );
  });

  it('run again: keeps the pool, its data and the fstab as they are', async () => {
    await writeFile(join(dataDir, 'kept'), 'yes');
    const tab = await readFile(fstab, 'utf8');
    const r = await setupHost(['--device', dev]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('already holds this pool');
    expect(await readFile(join(dataDir, 'kept'), 'utf8')).toBe('yes');
    expect(await readFile(fstab, 'utf8')).toBe(tab);
    expect(await blkid(dev, 'UUID')).toBe(uuid);
  });

  it('after a "restart" (device gone and back under another name) the fstab entry alone brings it back', async () => {
    await run('umount', [dataDir]);
    await run('losetup', ['-d', dev]);
    dev = await sh('losetup', ['--find', '--show', join(work, 'disk.img')]);
    // What boot does with the entry: mount by the mount point, the source found by its UUID.
    await run('mount', ['--fstab', fstab, dataDir]);
    expect(fsMagic(dataDir)).toBe(MAGIC.btrfs);
    expect(await readFile(join(dataDir, 'kept'), 'utf8')).toBe('yes');
  });

  it('refuses a device in use elsewhere, even with --force', async () => {
    const r = await setupHost(['--device', dev, '--force'], { MYAAS_DATA_DIR: join(work, 'other-pool') });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${dev} is in use: mounted at ${dataDir}`);
  });

  it('refuses an fstab entry that mounts something else at the data dir, until --force replaces it', async () => {
    const dir = join(work, 'second-pool');
    const second = await loopDevice(join(work, 'disk2.img'), '512M');
    // Files at the mount point would be hidden by the pool: refused before the fstab is even read.
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'stray'), 'x');
    const hidden = await setupHost(['--device', second, '--fs', 'xfs', '--force'], { MYAAS_DATA_DIR: dir });
    expect(hidden.code).toBe(1);
    expect(hidden.stderr).toContain(`${dir} is not empty: the pool would hide its files`);
    await rm(join(dir, 'stray'));

    await writeFile(fstab, `${await readFile(fstab, 'utf8')}${OTHER_LINE.replace('/srv/elsewhere', dir)}\n`);
    const refused = await setupHost(['--device', second, '--fs', 'xfs'], { MYAAS_DATA_DIR: dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`already mounts UUID=0a0b0c0d-0000-4000-8000-000000000001 at ${dir}`);
    expect(await blkid(second, 'TYPE').catch(() => '')).toBe('');

    const r = await setupHost(['--device', second, '--fs', 'xfs', '--force'], { MYAAS_DATA_DIR: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(fsMagic(dir)).toBe(MAGIC.xfs);
    const lines = (await readFile(fstab, 'utf8')).split('\n').filter((l) => l.includes(dir));
    expect(lines).toEqual([
      `# myaas storage pool at ${dir} (scripts/setup-host.sh)`,
      `UUID=${await blkid(second, 'UUID')} ${dir} xfs ${OPTS} 0 0`,
    ]);
    // The first pool's entry and the host's own are still there.
    expect(await readFile(fstab, 'utf8')).toContain(`UUID=${uuid} ${dataDir} btrfs`);
    expect(await readFile(fstab, 'utf8')).toContain(OTHER_LINE);
  });

  it('--persist: loop-image pools get fstab entries too, once', async () => {
    const env = {
      MYAAS_DATA_DIR: join(work, 'loop-btrfs'),
      MYAAS_XFS_DIR: join(work, 'loop-xfs'),
      MYAAS_POOL_IMAGES: join(work, 'images'),
      MYAAS_POOL_SIZE: '512M',
    };
    const r = await setupHost(['--persist'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(fsMagic(env.MYAAS_DATA_DIR)).toBe(MAGIC.btrfs);
    expect(fsMagic(env.MYAAS_XFS_DIR)).toBe(MAGIC.xfs);
    const tab = await readFile(fstab, 'utf8');
    expect(tab).toContain(`${env.MYAAS_POOL_IMAGES}/btrfs.img ${env.MYAAS_DATA_DIR} btrfs loop,${OPTS} 0 0`);
    expect(tab).toContain(`${env.MYAAS_POOL_IMAGES}/xfs.img ${env.MYAAS_XFS_DIR} xfs loop,${OPTS} 0 0`);
    expect(tab).toContain(`# myaas storage pool at ${env.MYAAS_DATA_DIR} (scripts/setup-host.sh)`);
    expect(tab).toContain(`# myaas storage pool at ${env.MYAAS_XFS_DIR} (scripts/setup-host.sh)`);

    const again = await setupHost(['--persist'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(await readFile(fstab, 'utf8')).toBe(tab);
  });
});
