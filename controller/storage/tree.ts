// Volumes that are plain directory trees, cloned with `cp -a`: the reflink and copy drivers differ
// only in cp's --reflink mode, so both are built here.
import { mkdir, rm } from 'node:fs/promises';
import type { CommandRunner } from '../domain/command.js';
import { AppError } from '../domain/errors.js';
import type { StorageName } from '../domain/types.js';
import type { Storage } from './storage.js';
import { volumeExists, volumeSize, volumeSpace, assertAbsent, assertVolumePath, lstatOrNull, storageFailure, walk } from './common.js';
import { unsharedBytes } from './usage.js';

// Keeps each chattr argv well below the kernel's limits (ARG_MAX, and 128 KiB per argument).
const BATCH_BYTES = 96 * 1024;
const BATCH_COUNT = 1000;

export interface TreeOptions {
  name: StorageName;
  /** cp's --reflink mode: `always` fails where blocks cannot be shared instead of quietly copying. */
  reflink: 'always' | 'never';
  /** what to tell the operator when cloning fails */
  cloneHint: string;
}

const SEAL_HINT =
  'sealing needs a filesystem with immutable flags (chattr +i: XFS, btrfs, ext4) and a controller running as root';

/**
 * Sets or clears the immutable flag on every directory and regular file under `root`. Immutable
 * holds even against root, which mode bits do not. Not `chattr -R`: it exits 1 on symlinks, FIFOs
 * and sockets (they cannot carry the flag), which would make sealing a datadir with a symlink fail.
 * They need no flag anyway: an immutable directory forbids removing or renaming its entries.
 */
async function setImmutable(runner: CommandRunner, root: string, on: boolean): Promise<void> {
  const paths: string[] = [];
  await walk(root, (p, kind) => {
    if (kind !== 'other') paths.push(p);
  });
  const flag = on ? '+i' : '-i';
  let batch: string[] = [];
  let bytes = 0;
  for (const p of paths) {
    if (batch.length >= BATCH_COUNT || bytes + p.length + 1 > BATCH_BYTES) {
      await runner.run('chattr', [flag, ...batch]);
      batch = [];
      bytes = 0;
    }
    batch.push(p);
    bytes += p.length + 1;
  }
  if (batch.length > 0) await runner.run('chattr', [flag, ...batch]);
}

/** True when `p` itself carries the immutable flag; false where flags cannot be read. */
async function isImmutable(runner: CommandRunner, p: string): Promise<boolean> {
  try {
    const { stdout } = await runner.run('lsattr', ['-d', p]);
    const flags = stdout.trim().split(/\s+/)[0] ?? '';
    return flags.includes('i');
  } catch {
    return false;
  }
}

export function createTreeStorage(runner: CommandRunner, opts: TreeOptions): Storage {
  const remove = async (p: string): Promise<void> => {
    assertVolumePath(p);
    if (!(await lstatOrNull(p))) return;
    try {
      // Clones are never immutable: try the cheap way first, unseal only when refused.
      await rm(p, { recursive: true, force: true });
    } catch {
      // Node's recursive rm reports an immutable file as ENOTDIR (it retries EPERM as rmdir), so
      // any failure is taken as "sealed" and gets one more try after clearing the flags.
      try {
        await setImmutable(runner, p, false);
        await rm(p, { recursive: true, force: true });
      } catch (e2) {
        throw storageFailure(`removing sealed volume ${p}`, e2, SEAL_HINT);
      }
    }
  };

  return {
    name: opts.name,

    async createVolume(p: string): Promise<void> {
      assertVolumePath(p);
      await assertAbsent(p, 'create volume');
      try {
        await mkdir(p);
      } catch (e) {
        throw storageFailure(`creating volume ${p}`, e, 'check that its parent directory exists and is writable');
      }
    },

    async seal(p: string): Promise<void> {
      assertVolumePath(p);
      try {
        await setImmutable(runner, p, true);
      } catch (e) {
        throw storageFailure(`sealing ${p}`, e, SEAL_HINT);
      }
    },

    async clone(src: string, dst: string): Promise<void> {
      assertVolumePath(src);
      assertVolumePath(dst);
      await assertAbsent(dst, `clone ${src}`);
      try {
        await runner.run('cp', ['-a', `--reflink=${opts.reflink}`, '--', src, dst]);
        // GNU cp does not copy the immutable flag today; if a future one does, the clone must
        // still be writable. Checking the top directory is enough: seal flags it with the rest.
        if (await isImmutable(runner, dst)) await setImmutable(runner, dst, false);
      } catch (e) {
        // A half-made clone must not be mistaken for a finished one on the next attempt.
        await remove(dst).catch(() => undefined);
        throw storageFailure(`cloning ${src} to ${dst}`, e, opts.cloneHint);
      }
    },

    remove,

    exists: volumeExists,
    size: volumeSize,
    // A plain copy shares nothing with its template.
    ownBytes: (p) => (opts.reflink === 'always' ? unsharedBytes(runner, assertVolumePath(p)) : volumeSize(p)),
    space: volumeSpace,
    // XFS has project quotas, but a reflink clone's files are charged in full (shared blocks too), so a
    // limit would have to be the template's size plus the allowance, and kernels built without
    // CONFIG_XFS_QUOTA (as on our test machines) refuse the prjquota mount option altogether.
    enableLimits: async () => ({
      mode: 'none' as const,
      why: `the ${opts.name} driver cannot limit a clone's size; put MYAAS_DATA_DIR on btrfs for per-instance limits`,
    }),
    async limit(p: string) {
      throw new AppError('storage_unavailable', `the ${opts.name} driver cannot limit ${p}; this is a bug in the caller (limits were not enabled)`);
    },
  };
}
