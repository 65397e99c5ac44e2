// btrfs driver: every volume is a subvolume; a clone is a writable snapshot of a read-only one,
// which shares all blocks and takes constant time whatever the datadir's size.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { CommandRunner } from '../domain/command.js';
import { messageOf } from '../domain/errors.js';
import type { Storage } from './storage.js';
import { createBtrfsQuota } from './btrfs-quota.js';
import { volumeExists, volumeSize, volumeSpace, assertAbsent, assertVolumePath, fsTypeOf, lstatOrNull, storageFailure, walk } from './common.js';
import { btrfsExclusiveBytes } from './usage.js';

// The root directory of every btrfs subvolume has this inode number (BTRFS_FIRST_FREE_OBJECTID).
const SUBVOLUME_ROOT_INODE = 256;

const HINT =
  'the btrfs driver needs MYAAS_DATA_DIR on btrfs (sudo scripts/setup-host.sh makes such a pool) and a controller running as root';

export function createBtrfsStorage(runner: CommandRunner): Storage {
  const btrfs = (args: string[]) => runner.run('btrfs', args);
  const quota = createBtrfsQuota(runner);

  async function isSubvolume(p: string): Promise<boolean> {
    const st = await lstatOrNull(p);
    if (!st?.isDirectory() || st.ino !== SUBVOLUME_ROOT_INODE) return false;
    return (await fsTypeOf(p)) === 'btrfs';
  }

  async function isReadOnly(p: string): Promise<boolean> {
    const { stdout } = await btrfs(['property', 'get', '-ts', p, 'ro']);
    return stdout.trim() === 'ro=true';
  }

  /** Deletes one subvolume. Root may delete a read-only one as it is, but a controller running
   * unprivileged on a pool mounted with user_subvol_rm_allowed may not (EPERM): clear ro first for both. */
  async function deleteSubvolume(p: string): Promise<void> {
    // -f: a version shipped here by btrfs receive has a received UUID, which btrfs keeps from being made
    // writable unless forced; it is about to go, so its UUID no longer matters.
    if (await isReadOnly(p)) await btrfs(['property', 'set', '-f', '-ts', p, 'ro', 'false']);
    await btrfs(['subvolume', 'delete', p]);
  }

  /** Subvolumes below `root` (not root itself), deepest first. */
  async function nestedSubvolumes(root: string): Promise<string[]> {
    const found: string[] = [];
    await walk(root, async (p, kind) => {
      if (kind === 'dir' && p !== root && (await lstatOrNull(p))?.ino === SUBVOLUME_ROOT_INODE) found.push(p);
    });
    return found.sort((a, b) => b.split('/').length - a.split('/').length);
  }

  /**
   * Deletes subvolume `p` with whatever its user made inside it: an instance's server may run programs
   * (COPY … FROM PROGRAM), and a subvolume made there by ioctl, which needs no privilege, makes the
   * plain delete fail with "Directory not empty". The common case costs one command.
   */
  async function deleteWithNested(p: string): Promise<void> {
    try {
      await deleteSubvolume(p);
      return;
    } catch (e) {
      if (!/not empty/i.test(messageOf(e))) throw e;
    }
    for (const nested of await nestedSubvolumes(p)) await deleteSubvolume(nested);
    await deleteSubvolume(p);
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
        const limited = await quota.release(p).catch(() => null);
        await deleteWithNested(p);
        if (limited) await quota.tidy(path.dirname(p)).catch(() => undefined);
      } catch (e) {
        throw storageFailure(`removing ${p}`, e, HINT);
      }
    },

    async limit(p: string, bytes: number): Promise<void> {
      assertVolumePath(p);
      try {
        await quota.limit(p, bytes);
      } catch (e) {
        throw storageFailure(`limiting ${p} to ${bytes} bytes`, e, 'check that quotas are enabled on the pool (btrfs quota enable --simple)');
      }
    },

    enableLimits: (dataDir: string) => quota.enable(dataDir),
    space: volumeSpace,

    exists: volumeExists,
    size: volumeSize,
    ownBytes: (p) => btrfsExclusiveBytes(runner, assertVolumePath(p)),
  };
}
