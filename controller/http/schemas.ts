// The API's shapes as zod schemas: what http/ validates requests with and what the OpenAPI document
// (/api/v1/openapi.json) describes. contract.ts keeps the same shapes as plain types for the Action
// and the CLI; the checks at the end of this file fail to compile when the two drift apart.
import { z } from '@hono/zod-openapi';
import type {
  ConnectionDto,
  CreateInstanceRequest,
  CreateInstanceResponse,
  ErrorDto,
  HealthDto,
  ActiveControllerDto,
  ImportResponse,
  InstanceDto,
  ListInstancesQuery,
  SchemaDiffResponse,
  OwnerSpec,
  TemplateDto,
  TemplateVersionDto,
  UnpinResponse,
  WebhookAck,
} from '../contract.js';

// Replies are strict objects (additionalProperties: false) so that the conformance check of the
// integration tests notices a field the document does not name. Request bodies stay lenient (unknown
// keys are dropped), as they always were.
const when = (what: string) => z.iso.datetime().openapi({ description: what, example: '2026-05-04T09:30:00.000Z' });
const nullableWhen = (what: string) => when(what).nullable();

export const INSTANCE_STATUS_VALUES = ['queued', 'provisioning', 'ready', 'retrying', 'suspended', 'failed', 'destroying', 'destroyed'] as const;
/** The statuses a list may filter by: lists hold live instances only. */
export const LIVE_STATUS_VALUES = ['queued', 'provisioning', 'ready', 'retrying', 'suspended', 'failed', 'destroying'] as const;

export const ErrorSchema = z
  .strictObject({
    error: z.strictObject({
      code: z.string().openapi({ description: 'machine-readable, e.g. not_found, invalid_name, port_pool_exhausted', example: 'not_found' }),
      message: z.string().openapi({ description: 'what went wrong and what to do about it' }),
    }),
  })
  .openapi('Error');

export const ConnectionSchema = z
  .strictObject({
    host: z.string(),
    port: z.number().int(),
    user: z.string(),
    password: z.string(),
    database: z.string(),
    url: z.string().openapi({ description: 'postgres://… or mysql://…', example: 'postgres://postgres:s3cret@db.example.com:41234/chinook' }),
  })
  .openapi('Connection');

const instanceFields = {
  id: z.string().openapi({ example: 'ik3x9q2m7a1b' }),
  name: z.string(),
  owner: z.string().openapi({ description: 'the owner key, e.g. gh:octo/app#12, gh:octo/app@run-55-1, api:alice' }),
  ownerKind: z.enum(['pull', 'run', 'api', 'pool']).openapi({
    description: 'pull: until the pull request closes; run: until the run\'s post step (or its TTL); api: until removed or expired',
  }),
  template: z.string(),
  templateVersion: z.string().nullable().openapi({ description: 'the template version it was cloned from (null until cloned)' }),
  status: z.enum(INSTANCE_STATUS_VALUES).openapi({ description: 'queued: waiting for capacity; retrying: an attempt failed and another is due; suspended: idle, its server stopped, woken by the first client connection' }),
  expiresAt: nullableWhen('null when the instance does not expire'),
  createdAt: when('when it was asked for'),
  readyAt: nullableWhen('when it last became ready'),
  error: z.string().optional().openapi({ description: 'why it failed (failed), or why the last attempt failed (retrying)' }),
  attempts: z.number().int().optional().openapi({ description: 'status retrying: failed attempts so far' }),
  retryAt: when('status retrying: when the next attempt is due').optional(),
  lastFault: z.string().optional().openapi({ description: 'the last fault of the running server (a crash, an out-of-memory kill) and what was done about it' }),
  // A union, not ConnectionSchema.nullable(): zod-to-openapi 9 would mark the Connection component
  // itself nullable (asteasolutions/zod-to-openapi#387).
  connection: z.union([ConnectionSchema, z.null()]).openapi({ description: 'for the instance\'s owner and admins once ready; never in lists' }),
};

export const InstanceSchema = z.strictObject(instanceFields).openapi('Instance');

// Spelled out rather than InstanceSchema.extend(): that becomes allOf [Instance, {created}], which no
// reply can satisfy once both parts forbid the other's fields.
export const CreatedInstanceSchema = z
  .strictObject({
    ...instanceFields,
    created: z.boolean().openapi({ description: 'true when this request created it (201), false when it existed (200)' }),
  })
  .openapi('CreatedInstance');

export const InstanceListSchema = z.array(InstanceSchema).openapi('InstanceList', {
  description: 'Live instances, oldest first, without connection details. A `Link: <…>; rel="next"` header points at the next page.',
});

const repository = z.string().openapi({ description: 'owner/repo' });
export const OwnerSpecSchema = z
  .union([
    z.object({ kind: z.literal('pull'), repository, number: z.number().int().positive() }),
    z.object({
      kind: z.literal('run'),
      repository,
      runId: z.string().regex(/^[0-9]+$/),
      attempt: z.string().regex(/^[0-9]+$/).optional(),
    }),
    z.object({ kind: z.literal('api'), name: z.string() }),
  ])
  .openapi('OwnerSpec', { description: 'who an instance belongs to; admin tokens only (an OIDC token\'s owner comes from its claims)' });

export const CreateInstanceSchema = z
  .object({
    template: z.string().openapi({ example: 'chinook' }),
    name: z.string().optional().openapi({ description: 'admin tokens only; default: derived from the owner and template' }),
    ttl: z
      .union([z.number().int().nonnegative(), z.string()])
      .optional()
      .openapi({ description: 'lifetime: seconds, or a duration such as "2h", "30m", "1d"; 0 for none (admins only)', example: '2h' }),
    owner: z.union([OwnerSpecSchema, z.string()]).optional().openapi({ description: 'admin tokens only: a spec, or an owner key as text' }),
  })
  .openapi('CreateInstanceRequest');

export const TemplateVersionSchema = z
  .strictObject({
    id: z.string().openapi({ example: 'v20260504t093000-k3x9' }),
    status: z.enum(['importing', 'ready', 'failed', 'retired']),
    createdAt: when('when the import started'),
    readyAt: nullableWhen('when the import finished'),
    sizeBytes: z.number().int().nullable(),
    error: z.string().optional().openapi({ description: 'why the import failed (admins see the tool\'s words; repositories only that it failed)' }),
    phase: z.string().optional().openapi({ description: 'what a running import is doing now, e.g. "loading chinook.sql"' }),
  })
  .openapi('TemplateVersion');

export const TemplateSchema = z
  .strictObject({
    name: z.string(),
    engine: z.enum(['postgres', 'mariadb']),
    latest: z.string().nullable().openapi({ description: 'id of the newest ready version, or null' }),
    versions: z.array(TemplateVersionSchema).openapi({ description: 'newest first' }),
  })
  .openapi('Template');

export const ImportSchema = z.strictObject({ template: z.string(), version: TemplateVersionSchema }).openapi('Import');

export const UnpinSchema = z.strictObject({ repository: z.string(), pinned: z.literal(false) }).openapi('Unpin');

export const PoolSchema = z
  .strictObject({
    totalBytes: z.number(),
    freeBytes: z.number(),
    reserveBytes: z.number(),
    limitBytes: z.number().openapi({ description: 'what one instance\'s clone may write (MYAAS_DISK_LIMIT); 0 when none is enforced' }),
    quota: z.enum(['squota', 'qgroup', 'none']).openapi({ description: 'squota: btrfs simple quotas; qgroup: btrfs full qgroups; none: no per-instance limit' }),
    quotaNote: z.string().optional().openapi({ description: 'why no per-instance limit is enforced although one was asked for' }),
  })
  .openapi('Pool');

export const ActiveControllerSchema = z
  .strictObject({
    url: z.string().openapi({ description: 'where the active controller serves the API', example: 'http://db1.example.com:5001' }),
    host: z.string(),
    pid: z.number().int(),
    since: z.string().openapi({ description: 'when it took the leader lock (ISO 8601)' }),
  })
  .openapi('ActiveController');

export const HealthSchema = z
  .strictObject({
    ok: z.boolean(),
    storage: z.string().openapi({ description: 'the storage driver in use', example: 'btrfs' }),
    docker: z.enum(['ok', 'unreachable']),
    version: z.string(),
    disk: PoolSchema.optional().openapi({ description: 'the storage pool: new instances and imports are refused (507) while freeBytes < reserveBytes' }),
    role: z.enum(['active', 'standby', 'starting']).optional().openapi({
      description: 'with a leader lock (DATABASE_URL): active serves the API; standby waits for the lock and answers the API with 503; starting has just taken it',
    }),
    active: ActiveControllerSchema.nullable().optional().openapi({ description: 'on a standby: the controller that holds the leader lock, null while none does' }),
  })
  .openapi('Health');

export const WebhookAckSchema = z
  .strictObject({ ok: z.literal(true), duplicate: z.literal(true).optional(), pong: z.literal(true).optional() })
  .openapi('WebhookAck');

export const SchemaDiffSchema = z
  .strictObject({
    instance: z.string(),
    summary: z.string().openapi({ description: 'one line', example: '1 column added, 1 column removed · ⚠️ 1 destructive change' }),
    markdown: z.string().openapi({ description: 'the whole diff as GitHub-flavoured Markdown' }),
    warnings: z.number().int().openapi({ description: 'destructive changes: a dropped table or column, a narrowed type, NOT NULL without a default' }),
    at: z.string().openapi({ description: 'when the instance\'s schema was read (ISO 8601)' }),
    diff: z.unknown().openapi({ description: 'the structural diff: per kind of object, what was added, removed and changed' }),
  })
  .openapi('SchemaDiff');

const commaList = (what: string, example: string) => z.string().optional().openapi({ description: `${what}, comma-separated`, example });
export const ListInstancesQuerySchema = z.object({
  template: commaList('only these templates', 'chinook,chinook-my'),
  owner: commaList('only these owner keys', 'gh:octo/app#12'),
  status: commaList(`only these statuses (${LIVE_STATUS_VALUES.join(', ')})`, 'ready,failed'),
  limit: z.coerce.number().int().min(1).max(1000).optional().openapi({ description: 'page size, 1 to 1000 (default 100)', example: 100 }),
  cursor: z.string().optional().openapi({ description: 'where the page starts: taken from the previous page\'s Link header, opaque' }),
});

// ---- compile-time agreement with contract.ts -------------------------------------------------------

type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Each entry must be `true`: the zod schema's type and the contract's type are the same type. */
export const CONTRACT_AGREES: {
  connection: Same<z.infer<typeof ConnectionSchema>, ConnectionDto>;
  instance: Same<z.infer<typeof InstanceSchema>, InstanceDto>;
  created: Same<z.infer<typeof CreatedInstanceSchema>, CreateInstanceResponse>;
  ownerSpec: Same<z.infer<typeof OwnerSpecSchema>, OwnerSpec>;
  createRequest: Same<z.infer<typeof CreateInstanceSchema>, CreateInstanceRequest>;
  version: Same<z.infer<typeof TemplateVersionSchema>, TemplateVersionDto>;
  template: Same<z.infer<typeof TemplateSchema>, TemplateDto>;
  import: Same<z.infer<typeof ImportSchema>, ImportResponse>;
  unpin: Same<z.infer<typeof UnpinSchema>, UnpinResponse>;
  health: Same<z.infer<typeof HealthSchema>, HealthDto>;
  activeController: Same<z.infer<typeof ActiveControllerSchema>, ActiveControllerDto>;
  error: Same<z.infer<typeof ErrorSchema>, ErrorDto>;
  webhookAck: Same<z.infer<typeof WebhookAckSchema>, WebhookAck>;
  listQuery: Same<z.output<typeof ListInstancesQuerySchema>, ListInstancesQuery>;
  schemaDiff: Same<z.infer<typeof SchemaDiffSchema>, SchemaDiffResponse>;
} = {
  connection: true, instance: true, created: true, ownerSpec: true, createRequest: true, version: true, template: true,
  import: true, unpin: true, health: true, activeController: true, error: true, webhookAck: true, listQuery: true, schemaDiff: true,
};
