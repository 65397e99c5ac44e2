// The one retry loop: polling against a deadline (readiness of servers and containers) and bounded
// backoff (GitHub's API) are the same loop with a different delay. Time comes from an injected Clock.
// Written here rather than taken from p-retry and friends: those count attempts on the wall clock,
// while readiness is judged against an absolute deadline and tests need to drive the clock.
import { AppError, messageOf } from '../domain/errors.js';
import type { Clock } from './clock.js';

export interface RetryOptions {
  clock: Clock;
  /** what is being tried, e.g. "postgres on port 49153 accepting connections" */
  what: string;
  /** what to do when it never succeeds; appended to the timeout message */
  hint?: string;
  /** epoch ms after which no new attempt starts (then: AppError timeout) */
  deadline?: number;
  /** attempts after the first (then: the last error is thrown as it is) */
  retries?: number;
  /** wait before the next attempt; `attempt` counts from 0; null gives up with this error */
  delay: number | ((attempt: number, error: unknown) => number | null);
  /** errors for which this answers false are thrown at once */
  retryable?: (e: unknown) => boolean;
  onRetry?: (e: unknown, attempt: number, waitMs: number) => void;
}

/**
 * Calls fn until it resolves. Always makes at least one attempt, even with a deadline in the past,
 * and one last attempt at the deadline, so a short budget never fails without having tried.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const started = o.clock.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (o.retryable && !o.retryable(e)) throw e;
      if (o.retries !== undefined && attempt >= o.retries) throw e;
      let wait = typeof o.delay === 'number' ? o.delay : o.delay(attempt, e);
      if (wait === null) throw e;
      if (o.deadline !== undefined) {
        const remaining = o.deadline - o.clock.now();
        if (remaining <= 0) {
          const hint = o.hint ? `; ${o.hint}` : '';
          throw new AppError('timeout', `${o.what} did not succeed within ${formatMs(Math.max(0, o.deadline - started))}: ${messageOf(e)}${hint}`);
        }
        wait = Math.min(wait, remaining);
      }
      o.onRetry?.(e, attempt, wait);
      await o.clock.sleep(wait);
    }
  }
}

/** Exponential backoff: base, 2·base, 4·base … capped at max. */
export function exponential(baseMs: number, maxMs: number, factor = 2): (attempt: number) => number {
  return (attempt) => Math.min(maxMs, baseMs * factor ** attempt);
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
