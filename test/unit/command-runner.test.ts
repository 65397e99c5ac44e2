// The controller starts its programs (btrfs, cp, chattr, openssl …) from a small helper process: from
// the controller itself each start cost ~40–50 ms of copying its memory map (PGlite's memory above
// all) and held up the container start of every clone (host/command.ts). These run real programs.
import { describe, expect, it } from 'vitest';
import { CommandError, createCommandRunner } from '../../controller/host/command.js';

const node = process.execPath;
const js = (code: string) => [node, ['-e', code]] as const;

describe('the command runner', () => {
  it('starts programs from its helper process, not from the controller', async () => {
    const runner = createCommandRunner();
    try {
      const [file, args] = js('console.log(process.ppid)');
      const parent = Number((await runner.run(file, [...args])).stdout.trim());
      expect(parent).toBeGreaterThan(0);
      expect(parent).not.toBe(process.pid);
      // The same helper serves the next program.
      expect(Number((await runner.run(file, [...args])).stdout.trim())).toBe(parent);
    } finally {
      runner.close();
    }
  });

  it('returns what a program printed, and reports a failing one with its exit code and stderr', async () => {
    const runner = createCommandRunner();
    try {
      const [file, args] = js('process.stdout.write("out"); process.stderr.write("err")');
      expect(await runner.run(file, [...args])).toEqual({ stdout: 'out', stderr: 'err' });
      const [f2, a2] = js('process.stderr.write("no such subvolume"); process.exit(3)');
      const e = await runner.run(f2, [...a2]).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(CommandError);
      expect(e).toMatchObject({ exitCode: 3, stderr: 'no such subvolume' });
      expect((e as Error).message).toMatch(/failed \(exit code 3\): no such subvolume/);
      const missing = await runner.run('myaas-no-such-program', []).catch((x: unknown) => x);
      expect((missing as Error).message).toMatch(/not found on PATH/);
      const [f3, a3] = js('setTimeout(() => {}, 10000)');
      const slow = await runner.run(f3, [...a3], { timeoutMs: 300 }).catch((x: unknown) => x);
      expect((slow as Error).message).toMatch(/timed out after 300 ms/);
    } finally {
      runner.close();
    }
  });

  it('its helper ends on close, and a later command starts a new one', async () => {
    const runner = createCommandRunner();
    const [file, args] = js('console.log(process.ppid)');
    const first = Number((await runner.run(file, [...args])).stdout.trim());
    runner.close();
    const deadline = Date.now() + 5000;
    while (alive(first) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive(first)).toBe(false);
    const second = Number((await runner.run(file, [...args])).stdout.trim());
    expect(second).not.toBe(first);
    runner.close();
  });

  it('direct: starts programs from this process (the volume plugin, a small process)', async () => {
    const runner = createCommandRunner({ direct: true });
    const [file, args] = js('console.log(process.ppid)');
    expect(Number((await runner.run(file, [...args])).stdout.trim())).toBe(process.pid);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
