import { describe, expect, it } from 'vitest';
import { AppError } from '../../controller/domain/errors.js';
import type { CommandRunner } from '../../controller/domain/command.js';
import type { StorageName } from '../../controller/domain/types.js';
import { createStorage, resolveStorage } from '../../controller/storage/index.js';

/** A runner that records calls and runs nothing: the factory must not need to run anything. */
function recordingRunner(): CommandRunner & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    async run(file, args) {
      calls.push([file, ...args]);
      return { stdout: '', stderr: '' };
    },
  };
}

describe('createStorage', () => {
  it('builds each driver of this build under its own name', () => {
    const runner = recordingRunner();
    for (const name of ['btrfs', 'reflink', 'copy'] as const) {
      expect(createStorage(name, runner).name).toBe(name);
    }
    expect(runner.calls).toEqual([]);
  });

  it('throws on an unknown name, listing the known ones', () => {
    const make = () => createStorage('lvm' as StorageName, recordingRunner());
    expect(make).toThrow(AppError);
    expect(make).toThrow(/unknown storage driver "lvm".*auto, btrfs, reflink or copy/);
  });

  it('refuses zfs clearly: not part of this build, use btrfs or reflink', () => {
    let error: unknown;
    try {
      createStorage('zfs', recordingRunner());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'storage_unavailable', status: 503 });
    expect((error as Error).message).toMatch(/zfs storage driver is not part of this build/);
    expect((error as Error).message).toMatch(/btrfs or reflink/);
  });
});

describe('resolveStorage', () => {
  it('refuses zfs and unknown names before touching the data dir', async () => {
    const runner = recordingRunner();
    const dataDir = '/nonexistent-myaas-unit-test/data';
    await expect(resolveStorage('zfs', dataDir, runner)).rejects.toMatchObject({ code: 'storage_unavailable' });
    await expect(resolveStorage('nope' as StorageName, dataDir, runner)).rejects.toMatchObject({ code: 'bad_request' });
    expect(runner.calls).toEqual([]);
  });
});
