// Polls a connection attempt until it succeeds, a non-retryable error occurs, or the deadline passes.
// Servers that are still starting refuse or drop connections; Docker's port proxy accepts and then
// closes them. Those are retried; a wrong password is not.
import { AppError, messageOf } from '../domain/errors.js';
import type { AdminSession } from './engine.js';

export async function untilConnected<T>(
  what: string,
  deadline: number,
  retryable: (e: unknown) => boolean,
  attempt: () => Promise<T>,
): Promise<T> {
  // Servers come up within a few hundred ms; a short fixed interval notices that soonest.
  const delay = 10;
  for (;;) {
    try {
      return await attempt();
    } catch (e) {
      if (!retryable(e)) throw e;
      if (Date.now() + delay > deadline) {
        throw new AppError('timeout', `${what} did not succeed in time: ${messageOf(e)}`);
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'PROTOCOL_CONNECTION_LOST', 'ECONNABORTED']);

/** Transport errors that mean "not listening yet". */
export function isTransient(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && NETWORK.has(code)) return true;
  return /ECONNREFUSED|ECONNRESET|socket hang up|Connection lost|closed|ended/i.test(messageOf(e));
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
