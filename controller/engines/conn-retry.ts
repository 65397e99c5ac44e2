// Connecting to a server that may still be starting: transport errors and "starting up" are retried
// against the caller's deadline; a wrong password is not.
import type { Clock } from '../lib/clock.js';
import { retry } from '../lib/retry.js';
import type { AdminSession } from './engine.js';

/** Servers come up within a few hundred ms; a short fixed interval notices that soonest. */
const INTERVAL_MS = 10;

export function untilConnected<T>(clock: Clock, what: string, deadline: number, retryable: (e: unknown) => boolean, attempt: () => Promise<T>): Promise<T> {
  return retry(attempt, { clock, what, deadline, delay: INTERVAL_MS, retryable });
}

/** Passwords we generate are URL-safe base64; asserting it keeps them safe to inline in SQL. */
export function assertSafeSecret(s: string): string {
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(s)) throw new Error('refusing to use a password outside [A-Za-z0-9_-]{16,128}');
  return s;
}

/** Opens, sets the password, closes: a rotation for engines whose admin sessions do the work. */
export async function setPasswordOnce(opening: Promise<AdminSession>, newPassword: string): Promise<void> {
  const session = await opening;
  try {
    await session.setPassword(newPassword);
  } finally {
    await session.close();
  }
}
