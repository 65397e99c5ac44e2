// The state DB as the core sees it: records of domain/types.ts, never SQL. createStore implements it
// over drizzle (PGlite or PostgreSQL) in queries.ts; tests implement it in memory.
import type { PullRequestRecord, RepositoryRecord } from '../domain/github.js';
import type { InstanceRecord, InstanceStatus, TemplateVersion, VersionStatus } from '../domain/types.js';

export type VersionPatch = Partial<Omit<TemplateVersion, 'id'>>;
export type InstancePatch = Partial<Omit<InstanceRecord, 'id'>>;

export interface VersionStore {
  insertVersion(v: TemplateVersion): Promise<void>;
  updateVersion(id: string, patch: VersionPatch): Promise<void>;
  getVersion(id: string): Promise<TemplateVersion | null>;
  /** The newest ready version of `template` (its "latest"). */
  latestReady(template: string): Promise<TemplateVersion | null>;
  /** Newest first within each template. */
  listVersions(filter?: { template?: string; status?: VersionStatus[] }): Promise<TemplateVersion[]>;
}

/** A page of live instances (GET /api/v1/instances): filters, and the key the page starts after. */
export interface InstancePageQuery {
  /** owner keys as text */
  owners?: string[];
  templates?: string[];
  status?: InstanceStatus[];
  /** owners starting with this are left out (the warm pool's unclaimed instances) */
  excludeOwnerPrefix?: string;
  /** keyset pagination: only rows after this (createdAt, id), in that order */
  after?: { createdAt: Date; id: string } | null;
  limit: number;
}

export interface InstanceStore {
  /**
   * Inserts unless a live instance of (owner, template) exists; returns the live one either way.
   * Races between two creators resolve in the unique index, not in application code. A clash on the
   * live name or port rejects with a UniqueViolation naming the index.
   */
  getOrCreateInstance(rec: InstanceRecord): Promise<{ instance: InstanceRecord; created: boolean }>;
  findLive(owner: string, template: string): Promise<InstanceRecord | null>;
  liveByName(name: string): Promise<InstanceRecord | null>;
  getInstance(id: string): Promise<InstanceRecord | null>;
  updateInstance(id: string, patch: InstancePatch): Promise<void>;
  /** Instances not destroyed, oldest first; optionally only those whose owner starts with a prefix. */
  listLive(filter?: { ownerPrefix?: string; template?: string; status?: InstanceStatus[] }): Promise<InstanceRecord[]>;
  /** Live instances matching `q`, oldest first (createdAt, then id), at most `q.limit`; one indexed query. */
  pageLive(q: InstancePageQuery): Promise<InstanceRecord[]>;
  /**
   * Applies `patch` to warm instance `id` only if it is still owned by `poolOwner`, ready and wanted:
   * the atomic step of handing it to someone. Null when someone else was first.
   */
  claimWarm(id: string, poolOwner: string, patch: InstancePatch): Promise<InstanceRecord | null>;
  /** Live, unprotected instances whose expiry is at or before `now`. */
  expired(now: Date): Promise<InstanceRecord[]>;
  livePorts(): Promise<number[]>;
  /** How many live instances have one of `status` (and an owner starting with `ownerPrefix`). */
  countLive(filter: { status: InstanceStatus[]; ownerPrefix?: string }): Promise<number>;
  /** Version ids some live instance still uses. */
  versionsInUse(): Promise<Set<string>>;
}

export interface DeliveryStore {
  /** whether a webhook delivery id was recorded as handled */
  deliverySeen(id: string): Promise<boolean>;
  /** records a webhook delivery id as handled (again is fine) */
  recordDelivery(id: string): Promise<void>;
}

export interface GitHubStore {
  getPullRequest(repo: string, number: number): Promise<PullRequestRecord | null>;
  /** Inserts or replaces the pull request's record. */
  savePullRequest(p: PullRequestRecord): Promise<void>;
  getRepository(name: string): Promise<RepositoryRecord | null>;
  /** Records the repository unless it is known; answers the record that holds (the first one). */
  pinRepository(r: RepositoryRecord): Promise<RepositoryRecord>;
  touchRepository(name: string, patch: Partial<Pick<RepositoryRecord, 'private' | 'lastSeen'>>): Promise<void>;
  /** Forgets a pin (an admin's decision after a rename or re-creation); false when there was none. */
  forgetRepository(name: string): Promise<boolean>;
}

export interface Store extends VersionStore, InstanceStore, DeliveryStore, GitHubStore {}
