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

/** "512m", "1g", "10GiB", "1048576" → bytes (k, m, g, t are powers of 1024). */
export function parseSize(s: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)i?b?$/i.exec(s.trim());
  if (!m) throw new Error(`not a size: ${s} (use e.g. 512m, 1g)`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * mult);
}
