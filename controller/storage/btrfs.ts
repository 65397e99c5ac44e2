// btrfs driver: every volume is a subvolume; a clone is a writable snapshot of a read-only one,
// which shares all blocks and takes constant time whatever the datadir's size.
import { rm } from 'node:fs/promises';
import type { CommandRunner } from '../domain/ports.js';
import type { Storage } from './storage.js';
import { apparentSize, assertAbsent, assertVolumePath, fsTypeOf, lstatOrNull, storageFailure } from './common.js';

// The root directory of every btrfs subvolume has this inode number (BTRFS_FIRST_FREE_OBJECTID).
const SUBVOLUME_ROOT_INODE = 256;

const HINT =
  'the btrfs driver needs MYAAS_DATA_DIR on btrfs (sudo scripts/setup-host.sh makes such a pool) and a controller running as root';

export function createBtrfsStorage(runner: CommandRunner): Storage {
  const btrfs = (args: string[]) => runner.run('btrfs', args);

  async function isSubvolume(p: string): Promise<boolean> {
    const st = await lstatOrNull(p);
    if (!st?.isDirectory() || st.ino !== SUBVOLUME_ROOT_INODE) return false;
    return (await fsTypeOf(p)) === 'btrfs';
  }

  async function isReadOnly(p: string): Promise<boolean> {
    const { stdout } = await btrfs(['property', 'get', '-ts', p, 'ro']);
    return stdout.trim() === 'ro=true';
  }

  return {
    name: 'btrfs',

    async createVolume(p: string): Promise<void> {
      assertVolumePath(p);
      await assertAbsent(p, 'create volume');
      try {
        await btrfs(['subvolume', 'create', p]);
      } catch (e) {
        throw storageFailure(`creating subvolume ${p}`, e, HINT);
      }
    },

    async seal(p: string): Promise<void> {
      assertVolumePath(p);
      try {
        // A read-only subvolume refuses writes even from root, and is what snapshots are made from.
        await btrfs(['property', 'set', '-ts', p, 'ro', 'true']);
      } catch (e) {
        throw storageFailure(`sealing subvolume ${p}`, e, HINT);
      }
    },

    async clone(src: string, dst: string): Promise<void> {
      assertVolumePath(src);
      assertVolumePath(dst);
      await assertAbsent(dst, `clone ${src}`);
      try {
        // No -r: the snapshot is writable although its source is read-only.
        await btrfs(['subvolume', 'snapshot', src, dst]);
      } catch (e) {
        throw storageFailure(`snapshotting ${src} to ${dst}`, e, HINT);
      }
    },

    async remove(p: string): Promise<void> {
      assertVolumePath(p);
      try {
        if (!(await lstatOrNull(p))) return;
        if (!(await isSubvolume(p))) {
          // e.g. a directory left by a crash before the subvolume existed, or by another driver.
          await rm(p, { recursive: true, force: true });
          return;
        }
        // Root may delete a read-only subvolume as it is, but a controller running unprivileged on a
        // pool mounted with user_subvol_rm_allowed may not (EPERM): clear ro first for both. -f: a
        // version shipped here by btrfs receive has a received UUID, which btrfs keeps from being
        // made writable unless forced; it is about to go, so its UUID no longer matters.
        if (await isReadOnly(p)) await btrfs(['property', 'set', '-f', '-ts', p, 'ro', 'false']);
        await btrfs(['subvolume', 'delete', p]);
      } catch (e) {
        throw storageFailure(`removing ${p}`, e, HINT);
      }
    },

    async size(p: string): Promise<number> {
      assertVolumePath(p);
      try {
        return await apparentSize(p);
      } catch (e) {
        throw storageFailure(`measuring ${p}`, e, 'check that the volume exists');
      }
    },
  };
}
