// Words for the storage pool's space: what is free, what is kept back, what one clone may write.

export interface PoolStatus {
  /** the data dir whose filesystem this is */
  path: string;
  totalBytes: number;
  freeBytes: number;
  /** below this much free space, new instances and imports are refused (MYAAS_DISK_RESERVE) */
  reserveBytes: number;
  /** what one clone may write (MYAAS_DISK_LIMIT); 0 when none is enforced */
  limitBytes: number;
  /** how the limit is enforced: btrfs simple quotas, full qgroups, or not at all */
  quota: 'squota' | 'qgroup' | 'none';
  /** why no limit is enforced although one was asked for */
  quotaNote?: string;
}

/** MYAAS_DISK_RESERVE: a fixed size, or a share of the pool. */
export type Reserve = { bytes: number } | { percent: number };

export function reserveBytes(reserve: Reserve, totalBytes: number): number {
  return 'bytes' in reserve ? reserve.bytes : Math.round((totalBytes * reserve.percent) / 100);
}

/** 1536 → "1.5 KiB"; for messages and the CLI. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
