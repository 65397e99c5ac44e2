// An instance's state transitions: what the reconciler should do next with it, how long a failure
// waits before the next attempt, and when a caller waiting on it can stop waiting. Pure: the
// reconciler supplies the facts it observed.
import type { InstanceRecord } from './types.js';

export type Step =
  /** destroyed, or failed for good on its current generation: nothing to do until someone asks again */
  | 'nothing'
  /** retrying, and the next attempt is not due yet */
  | 'wait'
  /** its owner let it go */
  | 'destroy'
  /** ready on its current generation: check that its container still runs */
  | 'check'
  /** a warm instance just claimed: give it its new owner's password */
  | 'handover'
  /** its server stopped: start it again on the same clone (same data, port, password) */
  | 'restart'
  /** new, reset, or a claim whose handover is lost: (re)build from a fresh clone */
  | 'provision';

/** True while the clone is wanted at a newer generation than the one it was built for. */
export const isBehind = (i: Pick<InstanceRecord, 'generation' | 'appliedGeneration'>): boolean => i.generation !== i.appliedGeneration;

/** Its clone was built for the current generation (so a restart keeps it). */
const built = (i: InstanceRecord) => !isBehind(i) && i.versionId !== null && i.readyAt !== null;

export function nextStep(i: InstanceRecord, facts: { handoverPending: boolean; now: number }): Step {
  if (i.status === 'destroyed') return 'nothing';
  if (i.desired === 'absent') return 'destroy';
  if (isBehind(i)) return facts.handoverPending ? 'handover' : 'provision';
  switch (i.status) {
    case 'failed':
    case 'queued': // admission (capacity) moves it on, not a wake
      return 'nothing';
    case 'ready':
      return 'check';
    case 'suspended': // its server is stopped on purpose: a client's connection (or a create) resumes it
      return 'nothing';
    case 'retrying':
      if (i.retryAt && i.retryAt.getTime() > facts.now) return 'wait';
      return built(i) ? 'restart' : 'provision';
    default:
      return built(i) ? 'restart' : 'provision';
  }
}

/** The version a (re)build clones: the pinned one, else the template's latest; the current one otherwise. */
export function wantsNewVersion(i: InstanceRecord): boolean {
  return isBehind(i) || i.versionId === null;
}

/** A caller waiting for an instance can stop: it is ready or failed on its current generation, or gone. */
export function isSettled(i: InstanceRecord): boolean {
  if (i.status === 'destroyed') return true;
  return i.desired === 'present' && (i.status === 'ready' || i.status === 'failed') && !isBehind(i);
}

/** Statuses that hold a clone or a container: they count against the instance caps (a suspended one holds its clone and port). */
export const HOLDS_CAPACITY = ['provisioning', 'ready', 'retrying', 'suspended', 'destroying'] as const;

/** A ready instance may be suspended: present, on its current generation, not a warm pool's unclaimed one. */
export function maySuspend(i: InstanceRecord, poolPrefix: string): boolean {
  return i.status === 'ready' && i.desired === 'present' && !isBehind(i) && i.port !== null && !i.owner.startsWith(poolPrefix);
}

/** Suspend an instance last seen busy at `lastBusy` (epoch ms) when it has been idle for `idleMs`. */
export function isIdleFor(lastBusy: number, now: number, idleMs: number): boolean {
  return idleMs > 0 && now - lastBusy >= idleMs;
}

/** Pause before attempt n+1 after n failures in a row: 5 s, 10 s, 20 s … at most 5 minutes. */
export function retryDelayMs(attempts: number): number {
  return Math.min(300_000, 5000 * 2 ** Math.max(0, attempts - 1));
}

/** A server that ran less than this long before stopping counts as crashing in a loop. */
export const STABLE_AFTER_MS = 60_000;

export interface Failure {
  /** the reason, for the instance's owner */
  error: string;
  /** whether another attempt can help (a missing template cannot) */
  retryable: boolean;
}

/** What a failure does to the instance: another attempt later, or failed until someone asks again. */
export function afterFailure(i: InstanceRecord, f: Failure, limit: number, now: number): Pick<InstanceRecord, 'status' | 'attempts' | 'retryAt' | 'error'> {
  const attempts = i.attempts + 1;
  if (f.retryable && attempts <= limit) {
    return { status: 'retrying', attempts, retryAt: new Date(now + retryDelayMs(attempts)), error: f.error };
  }
  const tried = attempts > 1 ? ` (after ${attempts} attempts; reset it or ask again to retry)` : '';
  return { status: 'failed', attempts, retryAt: null, error: `${f.error}${tried}` };
}
