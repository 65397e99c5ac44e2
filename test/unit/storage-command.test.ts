import { describe, expect, it } from 'vitest';
import { CommandError, createCommandRunner } from '../../controller/host/command.js';

const runner = createCommandRunner();

describe('createCommandRunner', () => {
  it('passes arguments literally, with no shell in between', async () => {
    const { stdout } = await runner.run('printf', ['%s|', 'a b', '$(id)', '; rm -rf /', '*']);
    expect(stdout).toBe('a b|$(id)|; rm -rf /|*|');
  });

  it('rejects with the command, exit code and trimmed stderr', async () => {
    const failed = runner.run('sh', ['-c', 'echo out; echo "  went wrong  " >&2; exit 3', 'probe']);
    await expect(failed).rejects.toBeInstanceOf(CommandError);
    await expect(failed).rejects.toMatchObject({
      exitCode: 3,
      stderr: 'went wrong',
      message: expect.stringMatching(/^sh -c .* probe failed \(exit code 3\): went wrong$/),
    });
  });

  it('says when the program is missing', async () => {
    await expect(runner.run('myaas-no-such-program', [])).rejects.toThrow(/myaas-no-such-program not found on PATH/);
  });

  it('kills a command that outlives its timeout', async () => {
    await expect(runner.run('sleep', ['30'], { timeoutMs: 50 })).rejects.toThrow(/sleep 30 timed out after 50 ms/);
  });
});
