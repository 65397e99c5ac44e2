// What a clone costs the pool (Storage.ownBytes), on the real pools: nothing right after a
// copy-on-write clone, then about what was written to it; everything for a plain copy.
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StorageName } from '../../controller/domain/types.js';
import { createCommandRunner } from '../../controller/host/command.js';
import { createStorage } from '../../controller/storage/index.js';
import type { Storage } from '../../controller/storage/storage.js';
import { POOLS, requirePool } from '../helpers/testbed.js';

const runner = createCommandRunner();
const MiB = 2 ** 20;

const CASES: { driver: StorageName; pool: 'btrfs' | 'xfs' }[] = [
  { driver: 'btrfs', pool: 'btrfs' },
  { driver: 'reflink', pool: 'xfs' },
  { driver: 'copy', pool: 'btrfs' },
];

describe.each(CASES)('$driver: bytes only a clone holds', ({ driver, pool }) => {
  let storage: Storage;
  let base = '';
  const tpl = () => path.join(base, 'template');
  const clone = () => path.join(base, 'clone');

  // A missing pool fails every test with what to do (a throw in beforeAll would only skip them).
  let problem: unknown = null;
  beforeAll(async () => {
    try {
      requirePool(POOLS[pool], pool);
      storage = createStorage(driver, runner);
      base = await mkdtemp(path.join(POOLS[pool], `ops-usage-${driver}-`));
    } catch (e) {
      problem = e;
    }
  });
  beforeEach(() => {
    if (problem) throw problem;
  });

  afterAll(async () => {
    if (!base) return;
    for (const p of [clone(), tpl()]) await storage.remove(p).catch(() => undefined);
    await runner.run('chattr', ['-R', '-f', '-i', base]).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  });

  it('counts what was written since the clone, not what it shares with its template', async () => {
    await storage.createVolume(tpl());
    await writeFile(path.join(tpl(), 'big'), randomBytes(4 * MiB));
    for (let i = 0; i < 20; i++) await writeFile(path.join(tpl(), `small-${i}`), randomBytes(3000));
    await runner.run('sync', ['-f', tpl()]);
    await storage.seal(tpl());
    await storage.clone(tpl(), clone());
    await runner.run('sync', ['-f', clone()]);
    const size = await storage.size(clone());
    expect(size).toBe(4 * MiB + 20 * 3000);

    const before = await storage.ownBytes(clone());
    if (driver === 'copy') expect(before).toBe(size);
    else expect(before).toBeLessThan(64 * 1024);

    // Rewrite 1 MiB in the middle of the big file and add a new 1 MiB file.
    const f = await open(path.join(clone(), 'big'), 'r+');
    await f.write(randomBytes(MiB), 0, MiB, MiB);
    await f.close();
    await writeFile(path.join(clone(), 'new'), randomBytes(MiB));
    await runner.run('sync', ['-f', clone()]);

    const after = await storage.ownBytes(clone());
    if (driver === 'copy') {
      expect(after).toBe(size + MiB);
    } else {
      expect(after).toBeGreaterThanOrEqual(2 * MiB);
      expect(after).toBeLessThan(2 * MiB + 256 * 1024);
    }
    // The template still owns all its blocks' worth of data; ownBytes never reaches into it.
    expect(await storage.size(tpl())).toBe(size);
  });
});
