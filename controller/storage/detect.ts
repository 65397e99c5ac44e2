// Chooses (MYAAS_STORAGE=auto) or checks (an explicit name) the storage driver for the data dir.
// `auto` only ever picks a copy-on-write driver: a silent full copy would make every clone as
// slow and as large as the template, which is exactly what myaas exists to avoid.
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AppError, messageOf } from '../domain/errors.js';
import type { CommandRunner } from '../domain/command.js';
import type { StorageName } from '../domain/types.js';
import { fsTypeOf } from './common.js';

const FIX =
  'put MYAAS_DATA_DIR on btrfs or on XFS made with reflink=1 (sudo scripts/setup-host.sh creates and mounts such pools), ' +
  'or set MYAAS_STORAGE=copy to accept slow full copies';

export function zfsUnavailable(): AppError {
  return new AppError(
    'storage_unavailable',
    'the zfs storage driver is not part of this build; set MYAAS_STORAGE to btrfs or reflink (or auto) ' +
      'with MYAAS_DATA_DIR on btrfs or on XFS made with reflink=1 (sudo scripts/setup-host.sh makes such pools)',
  );
}

async function prepare(dataDir: string): Promise<string> {
  if (!path.isAbsolute(dataDir) || dataDir.includes('\0')) {
    throw new AppError('bad_request', `MYAAS_DATA_DIR must be an absolute path, got ${JSON.stringify(dataDir)}`);
  }
  try {
    await mkdir(dataDir, { recursive: true });
    return await fsTypeOf(dataDir);
  } catch (e) {
    throw new AppError(
      'storage_unavailable',
      `cannot use MYAAS_DATA_DIR ${dataDir}: ${messageOf(e)}; create it (or let the controller create it) with write access for the controller`,
    );
  }
}

/**
 * Tries a real reflink copy inside `dataDir`: the filesystem type alone cannot tell (XFS made
 * without reflink=1, or an overlay over a reflink-capable filesystem). Answers cp's complaint on
 * failure, undefined on success.
 */
async function reflinkFailure(dataDir: string, runner: CommandRunner): Promise<string | undefined> {
  const base = path.join(dataDir, `.myaas-reflink-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  const src = `${base}.src`;
  const dst = `${base}.dst`;
  try {
    await writeFile(src, 'myaas reflink probe\n');
    await runner.run('cp', ['--reflink=always', '--', src, dst]);
    return undefined;
  } catch (e) {
    return messageOf(e);
  } finally {
    await rm(src, { force: true });
    await rm(dst, { force: true });
  }
}

/** MYAAS_STORAGE=auto: btrfs if the data dir is on btrfs, else reflink if it works there; never copy. */
export async function detectStorage(dataDir: string, runner: CommandRunner): Promise<StorageName> {
  const fsType = await prepare(dataDir);
  if (fsType === 'btrfs') return 'btrfs';
  const failure = await reflinkFailure(dataDir, runner);
  if (failure === undefined) return 'reflink';
  throw new AppError(
    'storage_unavailable',
    `MYAAS_DATA_DIR ${dataDir} is on ${fsType}, which cannot clone copy-on-write (a reflink test copy failed: ${failure}); ${FIX}`,
  );
}

/** An explicit MYAAS_STORAGE: refuse it now, with the fix, rather than at the first clone. */
export async function checkStorage(name: StorageName, dataDir: string, runner: CommandRunner): Promise<void> {
  const fsType = await prepare(dataDir);
  switch (name) {
    case 'copy':
      return;
    case 'zfs':
      throw zfsUnavailable();
    case 'btrfs':
      if (fsType !== 'btrfs') {
        throw new AppError(
          'storage_unavailable',
          `MYAAS_STORAGE=btrfs but MYAAS_DATA_DIR ${dataDir} is on ${fsType}, not btrfs; ` +
            'put MYAAS_DATA_DIR on btrfs (sudo scripts/setup-host.sh creates and mounts a pool), ' +
            'or set MYAAS_STORAGE=auto to use what the data dir supports',
        );
      }
      return;
    case 'reflink': {
      const failure = await reflinkFailure(dataDir, runner);
      if (failure !== undefined) {
        throw new AppError(
          'storage_unavailable',
          `MYAAS_STORAGE=reflink but MYAAS_DATA_DIR ${dataDir} (${fsType}) cannot make reflink copies (${failure}); ${FIX}`,
        );
      }
      return;
    }
    default: {
      const unknown: never = name;
      throw new AppError('bad_request', `unknown storage driver ${JSON.stringify(unknown)}; use auto, btrfs, reflink or copy`);
    }
  }
}
