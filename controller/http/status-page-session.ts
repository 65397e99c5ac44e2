// Sessions of the status page: an admin logs in once with an API token and then carries a random
// session id in an HttpOnly cookie, so the token itself is never stored by the browser or put in a
// URL. Kept in memory: a restart logs everyone out, which is fine for an admin page.
import { createHash, randomBytes } from 'node:crypto';

export interface SessionBook {
  /** Opens a session; answers its id, the cookie's value. */
  open(): string;
  valid(id: string | undefined): boolean;
  close(id: string | undefined): void;
}

export interface SessionBookOptions {
  ttlMs: number;
  /** sessions kept at most; the oldest goes first (a token holder logging in in a loop cannot grow memory) */
  max?: number;
  now?: () => number;
}

// Only digests are kept, so the map's contents would not log anyone in.
const digest = (id: string) => createHash('sha256').update(id).digest('base64url');

export function createSessionBook(opts: SessionBookOptions): SessionBook {
  const now = opts.now ?? Date.now;
  const max = opts.max ?? 1000;
  const expiry = new Map<string, number>();

  const prune = () => {
    for (const [k, until] of expiry) if (until <= now()) expiry.delete(k);
    while (expiry.size >= max) expiry.delete(expiry.keys().next().value as string);
  };

  return {
    open() {
      prune();
      const id = randomBytes(32).toString('base64url');
      expiry.set(digest(id), now() + opts.ttlMs);
      return id;
    },
    valid(id) {
      if (!id || id.length > 100) return false;
      const until = expiry.get(digest(id));
      if (until === undefined) return false;
      if (until > now()) return true;
      expiry.delete(digest(id));
      return false;
    },
    close(id) {
      if (id) expiry.delete(digest(id));
    },
  };
}
