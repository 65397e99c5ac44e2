// A storage pool of a test's own: a sparse image file, formatted and loop-mounted under a temporary
// folder, so a test can enable quotas, fill it or change its mount without touching the shared pools.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './testbed.js';

export interface PrivatePool {
  /** the mount point */
  dir: string;
  /** unmounts and deletes the image (everything on it must be gone or unused) */
  close(): Promise<void>;
}

export async function makePrivatePool(kind: 'btrfs' | 'xfs', size: string, name = 'pool'): Promise<PrivatePool> {
  const root = await mkdtemp(join(tmpdir(), `myaas-${name}-`));
  const img = join(root, `${kind}.img`);
  const dir = join(root, 'mnt');
  await mkdir(dir);
  try {
    await run('truncate', ['-s', size, img]);
    await run(kind === 'btrfs' ? 'mkfs.btrfs' : 'mkfs.xfs', kind === 'btrfs' ? ['-q', img] : ['-q', '-m', 'reflink=1', img]);
    await run('mount', ['-o', 'loop', img, dir]);
  } catch (e) {
    await rm(root, { recursive: true, force: true });
    throw new Error(`cannot make a private ${kind} pool (${(e as Error).message.split('\n')[0]}): the tests need root, ${kind} tools and loop devices`);
  }
  return {
    dir,
    async close() {
      // Docker may still be letting go of a bind mount below it for a moment.
      for (let i = 0; i < 20; i++) {
        if (await run('umount', [dir]).then(() => true, () => false)) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Runs every cleanup step even when one fails (a failed wipe must not leave a pool mounted); throws the first failure. */
export async function cleanupAll(steps: Array<() => Promise<unknown> | unknown>): Promise<void> {
  let first: unknown = null;
  for (const s of steps) {
    try {
      await s();
    } catch (e) {
      first ??= e;
    }
  }
  if (first) throw first;
}
