// Leader election over the leader lock (app/ports.ts LeaderLock): a standby asks for the lock every
// `pollMs`; once it has it, it is active, and checks the lock every `checkMs`. A lost lock (its
// connection closed, a check failed or went unanswered) calls `onLost` once: the caller stops acting
// at once (main.ts exits, so a supervisor starts it again as a standby). Never two actives: an
// active that cannot prove it holds the lock gives up.
import { messageOf } from '../domain/errors.js';
import type { LeaderRole } from '../domain/leader.js';
import type { LeaderLock, Logger } from '../app/ports.js';

export interface LeaderElectionOptions {
  lock: LeaderLock;
  /** how often a standby asks for the lock */
  pollMs: number;
  /** how often the active checks that it still holds it; a check unanswered for as long fails */
  checkMs: number;
  onLost: (reason: string) => void;
  log: Logger;
}

export interface LeaderElection {
  role(): LeaderRole | 'lost' | 'stopped';
  /** Resolves when this process holds the lock (role `starting`); rejects if the election is stopped first. */
  won(): Promise<void>;
  /** The lock is held and the controller serves: role `active`. */
  serving(): void;
  /** Stops asking and checking (the lock is released by closing it, which the caller does). */
  stop(): void;
}

export function startLeaderElection(opts: LeaderElectionOptions): LeaderElection {
  const { lock, log } = opts;
  let role: LeaderRole | 'lost' | 'stopped' = 'standby';
  let timer: NodeJS.Timeout | null = null;
  let resolveWon!: () => void;
  let rejectWon!: (e: Error) => void;
  const won = new Promise<void>((resolve, reject) => ((resolveWon = resolve), (rejectWon = reject)));
  won.catch(() => undefined); // a caller that never asks is not an unhandled rejection
  let lastError: string | null = null;

  const later = (fn: () => Promise<void>, ms: number) => {
    if (role === 'lost' || role === 'stopped') return;
    timer = setTimeout(() => void fn(), ms);
  };

  const lose = (reason: string) => {
    if (role !== 'starting' && role !== 'active') return;
    role = 'lost';
    if (timer) clearTimeout(timer);
    timer = null;
    opts.onLost(reason);
  };

  const check = async () => {
    try {
      await lock.check(opts.checkMs);
    } catch (e) {
      return lose(messageOf(e));
    }
    later(check, opts.checkMs);
  };

  const poll = async () => {
    if (role !== 'standby') return;
    let got = false;
    try {
      got = await lock.tryAcquire();
      if (lastError) log.info('the state DB answers the leader lock again');
      lastError = null;
    } catch (e) {
      // The state DB away: keep asking; say so once per kind of failure, not every second.
      if (messageOf(e) !== lastError) log.warn({ err: messageOf(e) }, 'cannot ask for the leader lock; asking again');
      lastError = messageOf(e);
    }
    if (role !== 'standby') return; // stopped meanwhile (a lock won now is released by closing it)
    if (!got) return later(poll, opts.pollMs);
    role = 'starting';
    lock.onLost(lose);
    resolveWon();
    later(check, opts.checkMs);
  };

  void poll();
  return {
    role: () => role,
    won: () => won,
    serving() {
      if (role === 'starting') role = 'active';
    },
    stop() {
      if (role === 'standby') rejectWon(new Error('the leader election was stopped before this controller became active'));
      role = 'stopped';
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
