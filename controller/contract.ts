// The HTTP API's shapes (v1), shared with the Action and the CLI. A leaf: types only, no runtime
// code, and nothing of the controller's core depends on it (http/present.ts maps to and from it).

/**
 * queued: waiting for capacity; retrying: an attempt failed and another is due (see error and attempts);
 * suspended: idle, its server stopped; the first client connection to its unchanged URL wakes it
 */
export type InstanceStatus = 'queued' | 'provisioning' | 'ready' | 'retrying' | 'suspended' | 'failed' | 'destroying' | 'destroyed';
export type VersionStatus = 'importing' | 'ready' | 'failed' | 'retired';

export interface ConnectionDto {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** postgres://… or mysql://… */
  url: string;
}

/** Who an instance belongs to, as the API takes it from admins (OIDC callers get theirs from the token). */
export type OwnerSpec =
  | { kind: 'pull'; repository: string; number: number }
  | { kind: 'run'; repository: string; runId: string; attempt?: string }
  | { kind: 'api'; name: string };

export type OwnerKind = 'pull' | 'run' | 'api' | 'pool';

export interface InstanceDto {
  id: string;
  name: string;
  /** the owner key, e.g. gh:octo/app#12, gh:octo/app@run-55-1, api:alice */
  owner: string;
  /** pull: until the pull request closes; run: until the run's post step (or its TTL); api: until removed or expired */
  ownerKind: OwnerKind;
  template: string;
  /** template version id the instance was cloned from (null until cloned) */
  templateVersion: string | null;
  status: InstanceStatus;
  /** ISO 8601, or null when the instance does not expire */
  expiresAt: string | null;
  createdAt: string;
  readyAt: string | null;
  /** why the instance failed (status failed), or why the last attempt failed (status retrying) */
  error?: string;
  /** status retrying: failed attempts so far, and when the next one is due (ISO 8601) */
  attempts?: number;
  retryAt?: string;
  /** the last fault of the running server (a crash, an out-of-memory kill) and what was done about it */
  lastFault?: string;
  /** present for the instance's owner (and admins); never in lists */
  connection: ConnectionDto | null;
}

/** POST /api/v1/instances body */
export interface CreateInstanceRequest {
  template: string;
  name?: string;
  /** lifetime: seconds, or a duration such as "2h", "30m", "1d" */
  ttl?: number | string;
  /** admin tokens only: create on behalf of this owner (a spec, or an owner key as text) */
  owner?: OwnerSpec | string;
}

/** POST /api/v1/instances response: 201 when created, 200 when it existed. */
export interface CreateInstanceResponse extends InstanceDto {
  created: boolean;
}

export interface TemplateVersionDto {
  id: string;
  status: VersionStatus;
  createdAt: string;
  readyAt: string | null;
  sizeBytes: number | null;
  error?: string;
  /** what a running import is doing now, e.g. "loading chinook.sql" */
  phase?: string;
}

export interface TemplateDto {
  name: string;
  engine: 'postgres' | 'mariadb';
  /** id of the newest ready version, or null */
  latest: string | null;
  /** newest first */
  versions: TemplateVersionDto[];
}

/** DELETE /api/v1/repositories/:owner/:repo/pin response */
export interface UnpinResponse {
  repository: string;
  pinned: false;
}

/**
 * GET /api/v1/instances query. The reply is a JSON array of live instances, oldest first; when more
 * follow, a `Link: <…>; rel="next"` header carries the URL of the next page.
 */
export interface ListInstancesQuery {
  /** comma-separated template names */
  template?: string;
  /** comma-separated owner keys */
  owner?: string;
  /** comma-separated statuses */
  status?: string;
  /** page size, 1 to 1000; default 100 */
  limit?: number;
  /** where the page starts (opaque; from the previous page's Link header) */
  cursor?: string;
}

export interface ImportResponse {
  template: string;
  version: TemplateVersionDto;
}

export interface HealthDto {
  ok: boolean;
  storage: string;
  docker: 'ok' | 'unreachable';
  version: string;
  /** the storage pool: new instances and imports are refused (507) while freeBytes < reserveBytes */
  disk?: PoolDto;
  /**
   * With a leader lock (DATABASE_URL): `active` serves the API; `standby` waits for the lock and answers
   * the API with 503; `starting` has just taken it. Absent without a leader lock (one controller).
   */
  role?: 'active' | 'standby' | 'starting';
  /** on a standby: the controller that holds the leader lock, null while none does */
  active?: ActiveControllerDto | null;
}

/** The controller that holds the leader lock, as it recorded itself. */
export interface ActiveControllerDto {
  url: string;
  host: string;
  pid: number;
  since: string;
}

export interface PoolDto {
  totalBytes: number;
  freeBytes: number;
  reserveBytes: number;
  /** what one instance's clone may write (MYAAS_DISK_LIMIT); 0 when none is enforced */
  limitBytes: number;
  /** squota: btrfs simple quotas; qgroup: btrfs full qgroups; none: no per-instance limit */
  quota: 'squota' | 'qgroup' | 'none';
  /** why no per-instance limit is enforced although one was asked for */
  quotaNote?: string;
}

/** POST /api/v1/webhooks/github: accepted (duplicate: a redelivery, not acted on again; pong: a ping) */
export interface WebhookAck {
  ok: true;
  duplicate?: true;
  pong?: true;
}

export interface ErrorDto {
  error: { code: string; message: string };
}

/** POST /api/v1/instances/:id/schema-diff: the instance's schema against its template version's. */
export interface SchemaDiffResponse {
  instance: string;
  /** one line, e.g. "1 column added, 1 column removed · ⚠️ 1 destructive change" */
  summary: string;
  /** the whole diff as GitHub-flavoured Markdown */
  markdown: string;
  /** destructive changes (dropped table or column, narrowed type, NOT NULL without default on rows) */
  warnings: number;
  at: string;
  /** the structural diff: per kind of object, what was added, removed and changed */
  diff: unknown;
}
