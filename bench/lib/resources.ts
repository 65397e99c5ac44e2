// Memory of an idle instance (its container's cgroup, as `docker stats` counts it) and the disk a
// fresh clone adds to the pool.
import { statfs } from 'node:fs/promises';
import Docker from 'dockerode';
import { cmd } from './util.js';

const docker = new Docker();

export interface Memory {
  /** usage minus inactive file cache: what `docker stats` shows */
  usedBytes: number;
  anonBytes: number | null;
  fileBytes: number | null;
  shmemBytes: number | null;
}

export async function memoryOf(containerId: string): Promise<Memory | null> {
  try {
    const st = await docker.getContainer(containerId).stats({ stream: false, 'one-shot': true });
    const m = st.memory_stats;
    const s = (m?.stats ?? {}) as Record<string, number | undefined>;
    if (typeof m?.usage !== 'number') return null;
    const inactive = s.inactive_file ?? s.total_inactive_file ?? 0;
    return {
      usedBytes: Math.max(0, m.usage - inactive),
      anonBytes: s.anon ?? s.rss ?? null,
      fileBytes: s.file ?? s.cache ?? null,
      shmemBytes: s.shmem ?? null,
    };
  } catch {
    return null;
  }
}

export interface Disk {
  /** btrfs: bytes only the clone holds (`btrfs filesystem du` exclusive), after sync */
  exclusiveBytes: number | null;
  /** used bytes of the pool after minus before (noisy: other users of the pool count too) */
  dfDeltaBytes: number;
}

async function usedBytes(dir: string): Promise<number> {
  await cmd('sync', ['-f', dir]);
  const s = await statfs(dir);
  return (s.blocks - s.bfree) * s.bsize;
}

export function diskProbe(driver: string, dataDir: string) {
  let before = 0;
  return {
    async before() {
      before = await usedBytes(dataDir);
    },
    async after(clone: string): Promise<Disk> {
      const dfDeltaBytes = (await usedBytes(dataDir)) - before;
      let exclusiveBytes: number | null = null;
      if (driver === 'btrfs') {
        await cmd('sync', ['-f', clone]);
        const out = await cmd('btrfs', ['filesystem', 'du', '-s', '--raw', clone]);
        // "     Total   Exclusive  Set shared  Filename" then one row of numbers.
        const row = out.trim().split('\n').pop()?.trim().split(/\s+/) ?? [];
        exclusiveBytes = Number(row[1]);
        if (!Number.isFinite(exclusiveBytes)) exclusiveBytes = null;
      }
      return { exclusiveBytes, dfDeltaBytes };
    },
  };
}
