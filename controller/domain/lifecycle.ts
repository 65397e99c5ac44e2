// An instance's state transitions: what the reconciler should do next with it, and when a caller
// waiting on it can stop waiting. Pure: the reconciler supplies the facts it observed.
import type { InstanceRecord } from './types.js';

export type Step =
  /** destroyed, or failed on its current generation: nothing to do until someone asks again */
  | 'nothing'
  /** its owner let it go */
  | 'destroy'
  /** ready on its current generation: check that its container still runs */
  | 'check'
  /** a warm instance just claimed: give it its new owner's password */
  | 'handover'
  /** new, reset, or a claim whose handover is lost: (re)build from a fresh clone */
  | 'provision';

/** True while the clone is wanted at a newer generation than the one it was built for. */
export const isBehind = (i: Pick<InstanceRecord, 'generation' | 'appliedGeneration'>): boolean => i.generation !== i.appliedGeneration;

export function nextStep(i: InstanceRecord, facts: { handoverPending: boolean }): Step {
  if (i.status === 'destroyed') return 'nothing';
  if (i.desired === 'absent') return 'destroy';
  if (!isBehind(i)) {
    if (i.status === 'failed') return 'nothing';
    if (i.status === 'ready') return 'check';
  }
  if (isBehind(i) && facts.handoverPending) return 'handover';
  return 'provision';
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
