// Leader election between controllers that share one PostgreSQL state DB (docs/many-hosts.md):
// one is active, the others are standbys that wait for its lock.

/** What a controller is doing: waiting for the lock, took it and is starting, or serving. */
export type LeaderRole = 'standby' | 'starting' | 'active';

/** The controller that holds the leader lock, as it recorded itself when it took the lock. */
export interface ActiveController {
  /** where clients reach its API (MYAAS_PUBLIC_URL) */
  url: string;
  host: string;
  pid: number;
  /** when it took the lock (ISO 8601) */
  since: string;
}

/** "process 42 on db1 (since …), at http://db1:5001" */
export function describeActive(a: ActiveController): string {
  return `process ${a.pid} on ${a.host} (active since ${a.since}), at ${a.url}`;
}
