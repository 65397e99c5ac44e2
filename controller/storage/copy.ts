// copy driver: a full `cp -a` of the template. Works on any filesystem but takes time and space
// in proportion to the datadir, so it is only used when asked for by name (MYAAS_STORAGE=copy).
import type { CommandRunner } from '../domain/command.js';
import type { Storage } from './storage.js';
import { createTreeStorage } from './tree.js';

export function createCopyStorage(runner: CommandRunner): Storage {
  return createTreeStorage(runner, {
    name: 'copy',
    // never: an explicit full copy, so space use does not depend on the filesystem underneath.
    reflink: 'never',
    cloneHint: 'check free space and permissions in MYAAS_DATA_DIR',
  });
}
