import { describe, expect, it } from 'vitest';
import { AppError } from '../../controller/domain/errors.js';
import { retryUntil, sleep } from '../../controller/runtime/wait.js';

describe('retryUntil', () => {
  it('returns the first success after failures', async () => {
    let calls = 0;
    const value = await retryUntil(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error(`not yet (${calls})`);
        return 'up';
      },
      { deadline: Date.now() + 60_000, intervalMs: 1, what: 'the server' },
    );
    expect(value).toBe('up');
    expect(calls).toBe(3);
  });

  it('throws a timeout AppError naming what and carrying the last error', async () => {
    let calls = 0;
    const err = await retryUntil(
      async () => {
        calls += 1;
        throw new Error(`refused #${calls}`);
      },
      { deadline: Date.now() + 30, intervalMs: 1, what: 'postgres on port 5999', hint: 'look at its logs' },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    const e = err as AppError;
    expect(e.code).toBe('timeout');
    expect(e.status).toBe(504);
    expect(e.message).toMatch(/^postgres on port 5999 did not succeed within /);
    expect(e.message).toContain(`refused #${calls}`);
    expect(e.message).toContain('look at its logs');
    expect(calls).toBeGreaterThan(1);
  });

  it('tries once even when the deadline has already passed', async () => {
    let calls = 0;
    const value = await retryUntil(
      async () => {
        calls += 1;
        return 42;
      },
      { deadline: Date.now() - 1000, intervalMs: 1, what: 'x' },
    );
    expect(value).toBe(42);
    expect(calls).toBe(1);
  });

  it('rethrows at once what isRetryable rejects', async () => {
    let calls = 0;
    const fatal = new AppError('unauthorized', 'wrong password: rotate it');
    const err = await retryUntil(
      async () => {
        calls += 1;
        if (calls === 1) throw new Error('connection refused');
        throw fatal;
      },
      {
        deadline: Date.now() + 60_000,
        intervalMs: 1,
        what: 'login',
        isRetryable: (e) => !(e instanceof AppError),
      },
    ).catch((e: unknown) => e);
    expect(err).toBe(fatal);
    expect(calls).toBe(2);
  });
});

describe('sleep', () => {
  it('resolves, also for non-positive durations', async () => {
    await expect(sleep(0)).resolves.toBeUndefined();
    await expect(sleep(-5)).resolves.toBeUndefined();
  });
});
