// Whether a template version is sealed (complete and read-only). The importer writes a version in
// place and seals it last, and shipping renames a received copy into place only once verified, so
// "sealed" is what makes a version safe to clone on any node.
import type { CommandRunner } from '../domain/command.js';
import type { StorageName } from '../domain/types.js';

export interface SealCheck {
  isSealed(path: string): Promise<boolean>;
}

export function createSealCheck(storage: StorageName, runner: CommandRunner): SealCheck {
  if (storage === 'btrfs') {
    return {
      async isSealed(p) {
        // A read-only subvolume; `btrfs property get` fails on anything else (not a subvolume).
        try {
          const { stdout } = await runner.run('btrfs', ['property', 'get', '-ts', p, 'ro']);
          return stdout.trim() === 'ro=true';
        } catch {
          return false;
        }
      },
    };
  }
  return {
    async isSealed(p) {
      // Tree drivers (reflink, copy) seal with the immutable flag on every entry, the top directory
      // first; sealing starts only after the import's server shut down and its files were synced,
      // so a flagged top means the data is complete.
      try {
        const { stdout } = await runner.run('lsattr', ['-d', p]);
        return (stdout.trim().split(/\s+/)[0] ?? '').includes('i');
      } catch {
        return false;
      }
    },
  };
}
