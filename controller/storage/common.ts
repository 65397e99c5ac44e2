// Helpers every storage driver shares: path checks, tree walks, sizes and error wording.
import type { Stats } from 'node:fs';
import { lstat, opendir, statfs } from 'node:fs/promises';
import path from 'node:path';
import { AppError, isAppError, messageOf } from '../domain/errors.js';

/**
 * Volumes are removed recursively and passed to root-run commands, so a wrong path is costly:
 * accept only absolute, normalised paths at least two levels below `/`.
 */
export function assertVolumePath(p: string): string {
  const ok =
    typeof p === 'string' &&
    !p.includes('\0') &&
    path.isAbsolute(p) &&
    path.normalize(p) === p &&
    !p.endsWith('/') &&
    p.split('/').filter(Boolean).length >= 2;
  if (!ok) {
    throw new AppError(
      'internal',
      `refusing storage path ${JSON.stringify(p)}: volumes must be absolute, normalised paths below a data directory; this is a bug in the caller`,
    );
  }
  return p;
}

/** lstat that answers undefined for a missing path instead of throwing. */
export async function lstatOrNull(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Clone targets must not exist: both `cp` and `btrfs subvolume snapshot` would nest into them. */
export async function assertAbsent(p: string, what: string): Promise<void> {
  if (await lstatOrNull(p)) {
    throw new AppError('conflict', `cannot ${what}: ${p} already exists; remove it first`);
  }
}

export type EntryKind = 'dir' | 'file' | 'other';

/** Visits `root` and everything below it, parents before children, never following symlinks. */
export async function walk(root: string, visit: (p: string, kind: EntryKind) => void | Promise<void>): Promise<void> {
  await visit(root, 'dir');
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop() as string;
    for await (const entry of await opendir(dir)) {
      const p = path.join(dir, entry.name);
      const kind: EntryKind = entry.isDirectory() ? 'dir' : entry.isFile() ? 'file' : 'other';
      await visit(p, kind);
      if (kind === 'dir') pending.push(p);
    }
  }
}

/** Apparent bytes of the regular files under `root`; hard links count once. */
export async function apparentSize(root: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  await walk(root, async (p, kind) => {
    if (kind !== 'file') return;
    const st = await lstat(p, { bigint: true });
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return;
    seen.add(key);
    total += Number(st.size);
  });
  return total;
}

/**
 * Wraps a failed storage step in an AppError that says what to do. Running out of space is the
 * one failure operators can fix without reading logs, so it gets its own code.
 */
export function storageFailure(step: string, e: unknown, hint: string): AppError {
  if (isAppError(e)) return e;
  const msg = messageOf(e);
  if (/no space left on device|ENOSPC|quota exceeded/i.test(msg)) {
    return new AppError(
      'insufficient_storage',
      `${step} failed: the storage pool is full (${msg}); free space by removing unused instances and old template versions, or grow the pool`,
    );
  }
  return new AppError('storage_unavailable', `${step} failed: ${msg}; ${hint}`);
}

// statfs f_type values (linux/magic.h) of the filesystems worth naming in messages.
const FS_NAMES: Record<number, string> = {
  0x9123683e: 'btrfs',
  0x58465342: 'xfs',
  0xef53: 'ext4',  // ext2 and ext3 share the magic; ext4 is what hosts run today
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0x2fc12fc1: 'zfs',
  0x6969: 'nfs',
  0xff534d42: 'cifs',
  0x65735546: 'fuse',
  0x58295829: 'zonefs',
  0xf2f52010: 'f2fs',
};

/** The name of the filesystem `dir` lives on, e.g. `btrfs`, or `unknown (0x…)`. */
export async function fsTypeOf(dir: string): Promise<string> {
  const { type } = await statfs(dir);
  return FS_NAMES[type] ?? `unknown (0x${type.toString(16)})`;
}

/** True when anything exists at volume path `p`. */
export async function volumeExists(p: string): Promise<boolean> {
  return (await lstatOrNull(assertVolumePath(p))) !== undefined;
}

/** Apparent bytes of a volume's files, with a message that says what to check when it cannot be read. */
export async function volumeSize(p: string): Promise<number> {
  assertVolumePath(p);
  try {
    return await apparentSize(p);
  } catch (e) {
    throw storageFailure(`measuring ${p}`, e, 'check that the volume exists');
  }
}

/** Size of the filesystem holding `p` and the bytes still free for new data (what statfs reports as available). */
export async function volumeSpace(p: string): Promise<{ totalBytes: number; freeBytes: number }> {
  const st = await statfs(p);
  return { totalBytes: st.blocks * st.bsize, freeBytes: st.bavail * st.bsize };
}
