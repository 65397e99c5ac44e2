// The controller's own state. Changes here need `npm run db:generate` (drizzle-kit) to add a migration.
import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const templateVersions = pgTable(
  'template_versions',
  {
    id: text('id').primaryKey(),
    template: text('template').notNull(),
    engine: text('engine').notNull(),
    status: text('status').notNull(),
    image: text('image').notNull(),
    database: text('database'),
    adminPassword: text('admin_password').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }),
    error: text('error'),
    /** what the import is doing now, for progress reports */
    phase: text('phase'),
    /** size and modification time of the dump it was made from: a failed import is not repeated for an unchanged dump */
    dumpFingerprint: text('dump_fingerprint'),
    /** the version's schema (JSON of domain/schema.ts SchemaSnapshot), read once, for schema diffs */
    schemaSnapshot: text('schema_snapshot'),
    createdAt: ts('created_at').notNull().defaultNow(),
    readyAt: ts('ready_at'),
  },
  (t) => [index('template_versions_template_idx').on(t.template, t.createdAt)],
);

export const instances = pgTable(
  'instances',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    owner: text('owner').notNull(),
    template: text('template').notNull(),
    engine: text('engine').notNull(),
    versionId: text('version_id'),
    pinnedVersionId: text('pinned_version_id'),
    status: text('status').notNull(),
    desired: text('desired').notNull().default('present'),
    port: integer('port'),
    password: text('password').notNull(),
    containerId: text('container_id'),
    /** the node's address, on a cluster runtime */
    host: text('host'),
    error: text('error'),
    generation: integer('generation').notNull().default(0),
    appliedGeneration: integer('applied_generation').notNull().default(0),
    /** failed attempts (or crashes) in a row; reset by success, a reset or the owner asking again */
    attempts: integer('attempts').notNull().default(0),
    /** status retrying: when the next attempt is due */
    retryAt: ts('retry_at'),
    /** the last thing that happened to a running instance (a crash, an out-of-memory kill), for its owner */
    lastFault: text('last_fault'),
    /** never expires while its owner lives (`/myaas protect`) */
    protected: boolean('protected').notNull().default(false),
    /** why it was destroyed when its owner did not ask: `expired` */
    endReason: text('end_reason'),
    /** its schema against its template version's (JSON of domain/schema.ts SchemaDiff), when last asked */
    schemaDiff: text('schema_diff'),
    schemaDiffAt: ts('schema_diff_at'),
    expiresAt: ts('expires_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    readyAt: ts('ready_at'),
    destroyedAt: ts('destroyed_at'),
  },
  (t) => [
    // Get-or-create is safe under races: only one live instance per (owner, template), name and port.
    uniqueIndex('instances_owner_template_live').on(t.owner, t.template).where(sql`status <> 'destroyed'`),
    uniqueIndex('instances_name_live').on(t.name).where(sql`status <> 'destroyed'`),
    uniqueIndex('instances_port_live').on(t.port).where(sql`status <> 'destroyed' and port is not null`),
    index('instances_status_idx').on(t.status),
    // Lists page through live instances oldest first (GET /api/v1/instances): a range scan of this.
    index('instances_live_created_idx').on(t.createdAt, t.id).where(sql`status <> 'destroyed'`),
  ],
);

export const webhookDeliveries = pgTable('webhook_deliveries', {
  id: text('id').primaryKey(),
  receivedAt: ts('received_at').notNull().defaultNow(),
});

/** What GitHub told us about a pull request: orders its events across restarts, decides its lifetime and queue place. */
export const pullRequests = pgTable(
  'pull_requests',
  {
    repo: text('repo').notNull(),
    number: integer('number').notNull(),
    /** head repository `owner/repo`, null when the fork was deleted */
    headRepo: text('head_repo'),
    fork: boolean('fork').notNull().default(false),
    /** open or closed, as of the newest event applied */
    state: text('state').notNull(),
    /** GitHub's updated_at of the newest event applied */
    updatedAt: ts('updated_at'),
    /** when an event or the resync last saw it */
    seenAt: ts('seen_at').notNull().defaultNow(),
    /** when myaas first saw it open: capacity is handed out oldest pull request first */
    openedAt: ts('opened_at').notNull().defaultNow(),
    /** the last push (opened, reopened, synchronize): MYAAS_GITHUB_IDLE_TTL counts from it */
    pushedAt: ts('pushed_at'),
  },
  (t) => [primaryKey({ columns: [t.repo, t.number] })],
);

/** A repository's GitHub ids, pinned on first sight: a deleted-and-recreated or renamed repository does not inherit. */
export const repositories = pgTable('repositories', {
  name: text('name').primaryKey(),
  repoId: bigint('repo_id', { mode: 'number' }).notNull(),
  ownerId: bigint('owner_id', { mode: 'number' }),
  private: boolean('private'),
  firstSeen: ts('first_seen').notNull().defaultNow(),
  lastSeen: ts('last_seen').notNull().defaultNow(),
});

/**
 * The controller that holds the leader lock (DATABASE_URL only; db/leader-lock.ts): one row, id 1,
 * written by each controller when it wins the lock, so that standbys can say where the active one is.
 */
export const controllerLeader = pgTable('controller_leader', {
  id: integer('id').primaryKey(),
  url: text('url').notNull(),
  host: text('host').notNull(),
  pid: integer('pid').notNull(),
  /** the server process of the lock's session (pg_backend_pid()): the row is current while it holds the lock */
  backendPid: integer('backend_pid').notNull(),
  since: ts('since').notNull().defaultNow(),
});

export const schema = { templateVersions, instances, webhookDeliveries, pullRequests, repositories, controllerLeader };
