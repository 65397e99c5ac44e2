// The storage pool holds every template version, every clone and (with PGlite) the controller's own
// state: one runaway instance or import must not fill it. Per-clone limits bound what one instance
// writes (the storage driver enforces them); this keeps a reserve, refusing new instances and imports
// while the pool's free space is below it, so templates and state always have room to finish writing.
import { AppError } from '../domain/errors.js';
import { formatBytes, reserveBytes, type PoolStatus, type Reserve } from '../domain/disk.js';
import type { DiskGuard, Storage } from './ports.js';

export interface DiskGuardDeps {
  storage: Pick<Storage, 'space'>;
  dataDir: string;
  reserve: Reserve;
  /** the per-clone limit in force (0: none) and how it is enforced */
  limit: { bytes: number; quota: PoolStatus['quota']; note?: string };
}

export function createDiskGuard(deps: DiskGuardDeps): DiskGuard {
  async function status(): Promise<PoolStatus> {
    const { totalBytes, freeBytes } = await deps.storage.space(deps.dataDir);
    return {
      path: deps.dataDir,
      totalBytes,
      freeBytes,
      reserveBytes: reserveBytes(deps.reserve, totalBytes),
      limitBytes: deps.limit.bytes,
      quota: deps.limit.quota,
      ...(deps.limit.note ? { quotaNote: deps.limit.note } : {}),
    };
  }
  return {
    status,
    async assertRoom(what) {
      const s = await status();
      if (s.freeBytes >= s.reserveBytes) return;
      throw new AppError(
        'insufficient_storage',
        `${what} is refused: the storage pool at ${s.path} has ${formatBytes(s.freeBytes)} free of ${formatBytes(s.totalBytes)}, ` +
          `less than the ${formatBytes(s.reserveBytes)} kept for template versions and the controller's state (MYAAS_DISK_RESERVE); ` +
          'free space by removing instances (myaas rm) or old template versions, or grow the pool',
      );
    },
  };
}
