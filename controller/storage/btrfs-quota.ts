// Per-clone disk limits on btrfs, with quota groups. Each clone gets a level-1 group 1/<subvolume id>
// holding its own 0/<id> and carrying the limit: a subvolume that the instance's user creates inside
// its clone (an ioctl needs no privilege) joins its parent's level-1 groups by itself under simple
// quotas, so it cannot escape the limit. Simple quotas (squota, kernel ≥ 6.7, btrfs-progs ≥ 6.7)
// charge each extent to the subvolume that wrote it: a clone is charged only for what it writes, not
// for the template blocks it shares, and no backref walk runs on writes or deletes. Full qgroups are
// used when an operator enabled them already, but never turned on here: they make deletes and writes
// of shared extents expensive.
import { access, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CommandRunner } from '../domain/command.js';
import { messageOf } from '../domain/errors.js';

export type QuotaMode = 'squota' | 'qgroup' | 'none';

export interface QuotaState {
  mode: QuotaMode;
  /** why limits cannot be enforced (mode none) */
  why?: string;
}

const OLD_PROGS =
  'btrfs-progs cannot enable simple quotas (it needs 6.7 or newer; on Debian 12 install btrfs-progs from bookworm-backports, ' +
  'as scripts/setup-host.sh does) and the kernel needs 6.7 or newer';

export function createBtrfsQuota(runner: CommandRunner) {
  const btrfs = (args: string[]) => runner.run('btrfs', args);

  /** The mount point of the filesystem holding `path` (btrfs filesystem show takes no other path). */
  async function mountPoint(path: string): Promise<string> {
    const dev = (await stat(path)).dev;
    let p = path;
    while (p !== '/' && (await stat(dirname(p))).dev === dev) p = dirname(p);
    return p;
  }

  async function fsUuid(path: string): Promise<string> {
    const { stdout } = await btrfs(['filesystem', 'show', await mountPoint(path)]);
    const m = /uuid:\s*([0-9a-f-]{36})/i.exec(stdout);
    if (!m) throw new Error(`btrfs filesystem show ${path} printed no uuid`);
    return m[1];
  }

  /** squota or qgroup while quotas are on (the kernel says which in sysfs), none while off. */
  async function mode(path: string): Promise<QuotaMode> {
    const uuid = await fsUuid(path);
    try {
      const m = (await readFile(`/sys/fs/btrfs/${uuid}/qgroups/mode`, 'utf8')).trim();
      return m === 'squota' ? 'squota' : 'qgroup';
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      // No qgroups folder: quotas are off. A kernel too old for the mode file has only full qgroups.
      const on = await access(`/sys/fs/btrfs/${uuid}/qgroups`).then(() => true, () => false);
      return on ? 'qgroup' : 'none';
    }
  }

  async function subvolumeId(path: string): Promise<string> {
    return (await btrfs(['inspect-internal', 'rootid', path])).stdout.trim();
  }

  /** Rows of `btrfs qgroup show -pc --raw`: id, and its children. */
  async function groups(path: string): Promise<Array<{ id: string; children: string[] }>> {
    const { stdout } = await btrfs(['qgroup', 'show', '-pc', '--raw', path]);
    const rows: Array<{ id: string; children: string[] }> = [];
    for (const line of stdout.split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (!/^\d+\/\d+$/.test(cols[0] ?? '')) continue;
      const child = cols[4] ?? '-';
      rows.push({ id: cols[0], children: child === '-' ? [] : child.split(',') });
    }
    return rows;
  }

  /**
   * Destroys the level-1 groups of clones whose subvolumes are gone: btrfs keeps them, and cannot
   * destroy one until it has finished cleaning the deleted subvolume, so each removal tidies up after
   * the earlier ones.
   */
  async function tidy(pool: string): Promise<void> {
    const rows = await groups(pool);
    const ids = new Set(rows.map((r) => r.id));
    for (const r of rows) {
      const [level, n] = r.id.split('/');
      // Only groups named after a subvolume id (ours are), never an operator's own 1/<small n>.
      if (level === '1' && Number(n) >= 256 && r.children.length === 0 && !ids.has(`0/${n}`)) {
        await btrfs(['qgroup', 'destroy', r.id, pool]).catch(() => undefined);
      }
    }
  }

  return {
    mode,
    tidy,

    /**
     * Quotas on the pool holding `dataDir`: left as they are when on, simple quotas turned on when off.
     * Also destroys the level-1 groups of clones whose subvolumes are gone (btrfs keeps them).
     */
    async enable(dataDir: string): Promise<QuotaState> {
      let current = await mode(dataDir);
      if (current === 'none') {
        const failed = await btrfs(['quota', 'enable', '--simple', dataDir]).then(() => null, (e: unknown) => e);
        current = await mode(dataDir);
        // Another controller on the same pool may have enabled them a moment before us.
        if (failed && current === 'none') return { mode: 'none', why: `${OLD_PROGS} (${messageOf(failed)})` };
        if (current === 'none') return { mode: 'none', why: OLD_PROGS };
      }
      await tidy(dataDir);
      return { mode: current };
    },

    /** Puts subvolume `path` under a limit of `bytes`, nested subvolumes included. */
    async limit(path: string, bytes: number): Promise<void> {
      const id = await subvolumeId(path);
      await btrfs(['qgroup', 'create', `1/${id}`, path]).catch(async (e) => {
        // A repeated attempt finds the group it made: fine as long as it is there.
        if (!(await groups(path)).some((g) => g.id === `1/${id}`)) throw e;
      });
      await btrfs(['qgroup', 'assign', '--no-rescan', `0/${id}`, `1/${id}`, path]).catch(async (e) => {
        if (!(await groups(path)).some((g) => g.id === `1/${id}` && g.children.includes(`0/${id}`))) throw e;
      });
      await btrfs(['qgroup', 'limit', String(bytes), `1/${id}`, path]);
    },

    /**
     * Lifts the limit of subvolume `path` before it is deleted (a subvolume at its limit cannot be
     * deleted: the deletion itself needs a little space), answering the group to destroy afterwards.
     */
    async release(path: string): Promise<string | null> {
      if ((await mode(path)) === 'none') return null;
      const group = `1/${await subvolumeId(path)}`;
      const ok = await btrfs(['qgroup', 'limit', 'none', group, path]).then(() => true, () => false);
      return ok ? group : null;
    },

  };
}

export type BtrfsQuota = ReturnType<typeof createBtrfsQuota>;
