// How a datadir is cloned. One implementation per driver; see createStorage in index.ts.
import type { StorageName } from '../domain/types.js';
import type { QuotaState } from './btrfs-quota.js';

export type { QuotaMode, QuotaState } from './btrfs-quota.js';

export interface Storage {
  readonly name: StorageName;
  /** Creates an empty, writable volume at `path` (its parent exists). */
  createVolume(path: string): Promise<void>;
  /** Makes a finished template version read-only. */
  seal(path: string): Promise<void>;
  /** Clones sealed `src` to a new writable volume `dst` (copy-on-write where the driver can). */
  clone(src: string, dst: string): Promise<void>;
  /** True when something exists at `path`. */
  exists(path: string): Promise<boolean>;
  /** Removes a volume, sealed or not. Missing is not an error. */
  remove(path: string): Promise<void>;
  /** Bytes the volume's files take (apparent size of the data). */
  size(path: string): Promise<number>;
  /** Bytes only this volume holds: for a clone, what its writes since the clone cost the pool. */
  ownBytes(path: string): Promise<number>;
  /** Size of the pool holding `path` and its bytes still free. */
  space(path: string): Promise<{ totalBytes: number; freeBytes: number }>;
  /**
   * Turns per-volume limits on for the pool holding `dataDir` where the driver can, and says how they
   * are enforced, or why they cannot be (mode none).
   */
  enableLimits(dataDir: string): Promise<QuotaState>;
  /** Limits what a clone may write to `bytes` (only after enableLimits answered a mode other than none). */
  limit(path: string, bytes: number): Promise<void>;
}
