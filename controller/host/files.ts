// The data dir's plain files and folders, as the importer and the reaper need them. Storage drivers
// own volumes (subvolumes, reflink trees); this owns everything else there.
import { chmod, chown, lstat, mkdir, readdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CommandRunner } from '../domain/command.js';
import type { PoolUsage } from '../domain/telemetry.js';

export interface HostFiles {
  mkdirp(path: string, mode?: number): Promise<void>;
  /** Writes `content` to a file owned by uid:gid with `mode`. */
  writeOwned(path: string, content: string, owner: { uid: number; gid: number }, mode: number): Promise<void>;
  chown(path: string, owner: { uid: number; gid: number }): Promise<void>;
  /** rm -rf; missing is fine. */
  removeTree(path: string): Promise<void>;
  /** Entry names of `dir`, or [] when it does not exist. */
  list(dir: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
  /** Flushes the filesystem that holds `path` to disk. */
  sync(path: string): Promise<void>;
  /** Size, used and free bytes of the filesystem that holds `path` (the pool, for the data dir). */
  poolUsage(path: string): Promise<PoolUsage>;
  /** Takes group and other access away from `path` (with `recursive`, from everything below it too; symlinks untouched). */
  makeOwnerOnly(path: string, opts?: { recursive?: boolean }): Promise<void>;
}

async function ownerOnly(path: string, recursive: boolean): Promise<void> {
  const st = await lstat(path);
  if (st.isSymbolicLink()) return;
  if ((st.mode & 0o077) !== 0) await chmod(path, st.mode & 0o7700);
  if (recursive && st.isDirectory()) for (const name of await readdir(path)) await ownerOnly(join(path, name), true);
}

/**
 * New files of this process readable by their owner only (the state DB's files, staging, keys). For
 * `myaas serve`; files an engine's user must read are chowned to it, so they need no group or other bits.
 */
export function useOwnerOnlyUmask(): void {
  process.umask(0o077);
}

export function createHostFiles(runner: CommandRunner): HostFiles {
  return {
    mkdirp: async (path, mode) => {
      await mkdir(path, { recursive: true, mode });
    },
    async writeOwned(path, content, owner, mode) {
      await writeFile(path, content, { mode });
      await chown(path, owner.uid, owner.gid);
    },
    chown: (path, owner) => chown(path, owner.uid, owner.gid),
    removeTree: (path) => rm(path, { recursive: true, force: true }),
    list: (dir) => readdir(dir).catch(() => [] as string[]),
    exists: (path) => stat(path).then(() => true, () => false),
    sync: async (path) => {
      await runner.run('sync', ['-f', path]);
    },
    async poolUsage(path) {
      const s = await statfs(path, { bigint: true });
      // As df counts them, so the numbers match what an operator checks by hand.
      const size = (blocks: bigint) => Number(blocks * s.bsize);
      return { totalBytes: size(s.blocks), usedBytes: size(s.blocks - s.bfree), freeBytes: size(s.bavail) };
    },
    makeOwnerOnly: (path, opts) => ownerOnly(path, opts?.recursive === true),
  };
}
