// reflink driver: `cp --reflink=always` shares the template's blocks with the clone (XFS made with
// reflink=1, or btrfs), so a clone costs metadata only, whatever the datadir's size.
import type { CommandRunner } from '../domain/command.js';
import type { Storage } from './storage.js';
import { createTreeStorage } from './tree.js';

export function createReflinkStorage(runner: CommandRunner): Storage {
  return createTreeStorage(runner, {
    name: 'reflink',
    reflink: 'always',
    cloneHint:
      'reflink clones need MYAAS_DATA_DIR on XFS made with reflink=1 or on btrfs (sudo scripts/setup-host.sh makes such a pool); ' +
      'set MYAAS_STORAGE=copy to accept slow full copies instead',
  });
}
