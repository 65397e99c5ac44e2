// Polling helpers. Readiness of containers and servers is only knowable by asking again, so callers
// poll against an absolute deadline (epoch ms) rather than counting attempts: a slow attempt then
// eats into the same budget instead of stretching it.

import { AppError, messageOf } from '../domain/errors.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

export interface RetryOptions {
  /** Epoch ms after which no new attempt starts. */
  deadline: number;
  intervalMs: number;
  /** Errors for which this returns false are thrown at once: retrying cannot fix them. */
  isRetryable?: (e: unknown) => boolean;
  /** What is being waited for, e.g. "postgres on port 49153 accepting connections". */
  what: string;
  /** What the user should do when it never succeeds; appended to the timeout message. */
  hint?: string;
}

/**
 * Calls fn until it resolves. Always makes at least one attempt, even with a deadline in the past,
 * and one last attempt at the deadline, so a short budget never fails without having tried.
 */
export async function retryUntil<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const started = Date.now();
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (opts.isRetryable && !opts.isRetryable(e)) throw e;
      const remaining = opts.deadline - Date.now();
      if (remaining <= 0) {
        const budget = formatMs(Math.max(0, opts.deadline - started));
        const hint = opts.hint ? `; ${opts.hint}` : '';
        throw new AppError('timeout', `${opts.what} did not succeed within ${budget}: ${messageOf(e)}${hint}`);
      }
      await sleep(Math.min(opts.intervalMs, remaining));
    }
  }
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}
