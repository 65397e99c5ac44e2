// The data dir's plain files and folders, as the importer and the reaper need them. Storage drivers
// own volumes (subvolumes, reflink trees); this owns everything else there.
import { chown, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import type { CommandRunner } from '../domain/command.js';

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
  };
}
