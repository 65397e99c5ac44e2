// Which network failures mean "try again" and which mean "nothing is there". One list for the
// database wire clients, the Docker client and GitHub's.
import { messageOf } from '../domain/errors.js';

/** A server that is starting, restarting, or behind Docker's port proxy refuses, drops or resets. */
const TRANSIENT = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNABORTED',
  'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'PROTOCOL_CONNECTION_LOST',
]);

/** An endpoint that is not there at all: no socket file, no permission, no such host, nobody listening. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ENOTFOUND', 'EHOSTUNREACH']);

export function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Transport errors that mean "not listening yet" or "connection dropped": worth another try. */
export function isTransientConnectionError(e: unknown): boolean {
  const code = errorCode(e);
  if (code && TRANSIENT.has(code)) return true;
  return /ECONNREFUSED|ECONNRESET|socket hang up|Connection lost|closed|ended/i.test(messageOf(e));
}

/** The endpoint itself cannot be reached (as opposed to a request it refused). */
export function isUnreachable(e: unknown): boolean {
  const code = errorCode(e);
  return code !== undefined && UNREACHABLE.has(code);
}
