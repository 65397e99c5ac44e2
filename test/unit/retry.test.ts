import { describe, expect, it } from 'vitest';
import { AppError } from '../../controller/domain/errors.js';
import { exponential, retry } from '../../controller/lib/retry.js';
import { createFakeClock } from '../helpers/fakes/clock.js';

describe('retry against a deadline', () => {
  it('returns the first success after failures, sleeping the interval in between', async () => {
    const clock = createFakeClock();
    let calls = 0;
    const value = await retry(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error(`not yet (${calls})`);
        return 'up';
      },
      { clock, deadline: clock.now() + 60_000, delay: 10, what: 'the server' },
    );
    expect(value).toBe('up');
    expect(calls).toBe(3);
    expect(clock.sleeps).toEqual([10, 10]);
  });

  it('throws a timeout AppError naming what, the budget and the last error, after a last attempt at the deadline', async () => {
    const clock = createFakeClock();
    let calls = 0;
    const err = await retry(
      async () => {
        calls += 1;
        throw new Error(`refused #${calls}`);
      },
      { clock, deadline: clock.now() + 25, delay: 10, what: 'postgres on port 5999', hint: 'look at its logs' },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    const e = err as AppError;
    expect(e.code).toBe('timeout');
    expect(e.status).toBe(504);
    expect(e.message).toBe('postgres on port 5999 did not succeed within 25 ms: refused #4; look at its logs');
    // 0, 10, 20, then the remaining 5 ms up to the deadline, and a last try there.
    expect(clock.sleeps).toEqual([10, 10, 5]);
    expect(calls).toBe(4);
  });

  it('tries once even when the deadline has already passed', async () => {
    const clock = createFakeClock();
    let calls = 0;
    const value = await retry(async () => (calls += 1, 42), { clock, deadline: clock.now() - 1000, delay: 1, what: 'x' });
    expect(value).toBe(42);
    expect(calls).toBe(1);
  });

  it('rethrows at once what `retryable` rejects', async () => {
    const clock = createFakeClock();
    let calls = 0;
    const fatal = new AppError('unauthorized', 'wrong password: rotate it');
    const err = await retry(
      async () => {
        calls += 1;
        if (calls === 1) throw new Error('connection refused');
        throw fatal;
      },
      { clock, deadline: clock.now() + 60_000, delay: 1, what: 'login', retryable: (e) => !(e instanceof AppError) },
    ).catch((e: unknown) => e);
    expect(err).toBe(fatal);
    expect(calls).toBe(2);
  });
});

describe('retry with a bounded number of attempts', () => {
  it('backs off exponentially and throws the last error as it is when attempts run out', async () => {
    const clock = createFakeClock();
    const seen: number[] = [];
    const last = new Error('503');
    const err = await retry(async () => Promise.reject(last), {
      clock, what: 'GitHub', retries: 3, delay: exponential(1000, 5000), onRetry: (_e, _a, w) => seen.push(w),
    }).catch((e: unknown) => e);
    expect(err).toBe(last);
    expect(seen).toEqual([1000, 2000, 4000]);
    expect(clock.sleeps).toEqual([1000, 2000, 4000]);
  });

  it('gives up when the delay function says so (null)', async () => {
    const clock = createFakeClock();
    let calls = 0;
    const err = await retry(async () => Promise.reject(new Error(`no ${++calls}`)), {
      clock, what: 'x', retries: 5, delay: (attempt) => (attempt < 1 ? 50 : null),
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('no 2');
    expect(clock.sleeps).toEqual([50]);
  });

  it('caps the backoff', () => {
    const d = exponential(100, 1000);
    expect([0, 1, 2, 3, 4, 10].map(d)).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});
