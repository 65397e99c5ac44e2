// The storage factory: the one place that turns MYAAS_STORAGE into a driver.
import { AppError } from '../domain/errors.js';
import type { CommandRunner } from '../domain/command.js';
import type { StorageName } from '../domain/types.js';
import { createBtrfsStorage } from './btrfs.js';
import { createCopyStorage } from './copy.js';
import { checkStorage, detectStorage, zfsUnavailable } from './detect.js';
import { createReflinkStorage } from './reflink.js';
import type { Storage } from './storage.js';

export type { Storage } from './storage.js';
export { checkStorage, detectStorage } from './detect.js';

export function createStorage(name: StorageName, runner: CommandRunner): Storage {
  switch (name) {
    case 'btrfs':
      return createBtrfsStorage(runner);
    case 'reflink':
      return createReflinkStorage(runner);
    case 'copy':
      return createCopyStorage(runner);
    case 'zfs':
      throw zfsUnavailable();
    default: {
      const unknown: never = name;
      throw new AppError(
        'bad_request',
        `unknown storage driver ${JSON.stringify(unknown)}; set MYAAS_STORAGE to auto, btrfs, reflink or copy`,
      );
    }
  }
}

/** MYAAS_STORAGE as configured → a driver that works on `dataDir`, or an AppError saying how to fix it. */
export async function resolveStorage(
  setting: 'auto' | StorageName,
  dataDir: string,
  runner: CommandRunner,
): Promise<Storage> {
  if (setting === 'auto') return createStorage(await detectStorage(dataDir, runner), runner);
  // Build first so an unknown name or zfs is refused before touching the data dir.
  const storage = createStorage(setting, runner);
  await checkStorage(setting, dataDir, runner);
  return storage;
}
