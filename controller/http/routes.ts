// Every operation of the HTTP API, described once: path, parameters, body, replies with their status
// codes, and who may call it. api.ts and app.ts serve these routes; openapi.ts turns them into the
// document at /api/v1/openapi.json.
import { createRoute, z } from '@hono/zod-openapi';
import {
  CreatedInstanceSchema,
  CreateInstanceSchema,
  ErrorSchema,
  HealthSchema,
  ImportSchema,
  InstanceListSchema,
  InstanceSchema,
  ListInstancesQuerySchema,
  SchemaDiffSchema,
  TemplateSchema,
  UnpinSchema,
  WebhookAckSchema,
} from './schemas.js';

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

const ERRORS = {
  400: 'bad request: an invalid name, body, query or duration; the message says which',
  401: 'no token, or one that is neither an API token nor a valid OIDC token',
  403: 'the token may not do this (a metrics token, a repository not configured here, an admin-only operation)',
  404: 'no such instance, template, dump or route (others\' instances are reported missing)',
  409: 'a conflict: the name is taken, the instance is destroyed, the template has no ready version',
  413: 'the body is too large',
  422: 'the import failed (a dump that does not load, bad masking rules)',
  500: 'an unexpected error; the controller log has details',
  503: 'a dependency is unavailable or full: Docker, storage, the port range, the OIDC issuer\'s keys',
  504: 'a step did not finish in time',
  507: 'the storage pool is full',
} as const;
type ErrorStatus = keyof typeof ERRORS;

/** The error replies of an operation: every one is `{ error: { code, message } }`. */
function errors<const C extends readonly ErrorStatus[]>(...codes: C) {
  return Object.fromEntries(codes.map((c) => [c, json(ErrorSchema, ERRORS[c])])) as {
    [K in C[number]]: ReturnType<typeof json<typeof ErrorSchema>>;
  };
}

// Every authenticated operation may answer these.
const AUTHED = [401, 403, 500, 503] as const;

/** Security requirements: any one of the listed schemes (openapi.ts declares them). */
export const SECURITY = {
  adminToken: { type: 'http', scheme: 'bearer', description: 'An admin API token (MYAAS_API_TOKENS): every operation.' },
  oidcToken: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'A GitHub Actions OIDC token of a repository configured here (MYAAS_GITHUB_REPOS): its own templates and instances; ' +
      'the owner comes from the token\'s claims.',
  },
  metricsToken: { type: 'http', scheme: 'bearer', description: 'A metrics token (MYAAS_METRICS_TOKENS): GET /api/v1/metrics and nothing else.' },
  githubSignature: {
    type: 'apiKey',
    in: 'header',
    name: 'X-Hub-Signature-256',
    description: 'sha256=<HMAC-SHA256 of the raw body with MYAAS_GITHUB_WEBHOOK_SECRET>, as GitHub sends it.',
  },
} as const;
type Security = Array<Partial<Record<keyof typeof SECURITY, string[]>>>;
const ADMIN: Security = [{ adminToken: [] }];
const ADMIN_OR_OIDC: Security = [{ adminToken: [] }, { oidcToken: [] }];

const waitQuery = z.object({
  wait: z.string().optional().openapi({
    description: 'seconds to wait until the instance is ready, failed or destroyed (empty or "true": 60; at most the controller\'s limit); without it the reply does not wait',
    example: '60',
  }),
});
const idParams = z.object({ id: z.string().openapi({ description: 'the instance id', example: 'ik3x9q2m7a1b' }) });
const templateParams = z.object({
  name: z.string().openapi({ description: 'the template: lowercase letters, digits, - and _, at most 48', example: 'chinook' }),
});

// ---- instances ----------------------------------------------------------------------------------------

export const listInstances = createRoute({
  method: 'get', path: '/instances', operationId: 'listInstances', tags: ['instances'], security: ADMIN_OR_OIDC,
  summary: 'List live instances',
  description:
    'Oldest first, without passwords or connection details, a page at a time. An OIDC token sees only its own ' +
    'owner\'s instances. When more follow, the `Link` header names the next page (`rel="next"`).',
  request: { query: ListInstancesQuerySchema },
  responses: {
    200: {
      ...json(InstanceListSchema, 'a page of instances'),
      headers: { Link: { description: '`<url of the next page>; rel="next"` when more follow', schema: { type: 'string' } } },
    },
    ...errors(400, ...AUTHED),
  },
});

export const createInstance = createRoute({
  method: 'post', path: '/instances', operationId: 'createInstance', tags: ['instances'], security: ADMIN_OR_OIDC,
  summary: 'Get or create the instance of an owner and template',
  description:
    'Get-or-create on (owner, template). The owner is the OIDC token\'s pull request or run, or for an admin ' +
    '`owner` (default: `api:<name>`). Provisioning goes on in the background unless `wait` is given.',
  request: { query: waitQuery, body: { required: true, content: { 'application/json': { schema: CreateInstanceSchema } } } },
  responses: {
    200: json(CreatedInstanceSchema, 'the owner\'s existing instance (created: false)'),
    201: json(CreatedInstanceSchema, 'a new instance (created: true)'),
    ...errors(400, 404, 409, 422, 504, 507, ...AUTHED),
  },
});

export const getInstance = createRoute({
  method: 'get', path: '/instances/{id}', operationId: 'getInstance', tags: ['instances'], security: ADMIN_OR_OIDC,
  summary: 'One instance, with its connection details once ready',
  request: { params: idParams, query: waitQuery },
  responses: { 200: json(InstanceSchema, 'the instance'), ...errors(400, 404, ...AUTHED) },
});

export const resetInstance = createRoute({
  method: 'post', path: '/instances/{id}/reset', operationId: 'resetInstance', tags: ['instances'], security: ADMIN_OR_OIDC,
  summary: 'Back to the latest (or its pinned) template version',
  description: 'Same port and credentials; the data is the template version\'s again.',
  request: { params: idParams, query: waitQuery },
  responses: { 202: json(InstanceSchema, 'the reset is under way (or done, with `wait`)'), ...errors(400, 404, 409, 504, 507, ...AUTHED) },
});

export const schemaDiff = createRoute({
  method: 'post', path: '/instances/{id}/schema-diff', operationId: 'schemaDiff', tags: ['instances'], security: ADMIN_OR_OIDC,
  summary: 'Compare the instance\'s schema with its template version\'s',
  description: 'Reads the live schema now and compares it with the schema recorded for the template version it was cloned from.',
  request: { params: idParams },
  responses: { 200: json(SchemaDiffSchema, 'the diff (empty when nothing changed)'), ...errors(400, 404, 409, 504, ...AUTHED) },
});

export const destroyInstance = createRoute({
  method: 'delete', path: '/instances/{id}', operationId: 'destroyInstance', tags: ['instances'], security: ADMIN_OR_OIDC,
  summary: 'Destroy an instance',
  request: { params: idParams, query: waitQuery },
  responses: {
    200: json(InstanceSchema, 'destroyed'),
    202: json(InstanceSchema, 'being destroyed'),
    ...errors(400, 404, ...AUTHED),
  },
});

// ---- templates and repositories -------------------------------------------------------------------

export const listTemplates = createRoute({
  method: 'get', path: '/templates', operationId: 'listTemplates', tags: ['templates'], security: ADMIN_OR_OIDC,
  summary: 'Templates with their versions',
  description: 'An OIDC token sees the templates configured for its repository, and of a failed import only that it failed.',
  responses: { 200: json(z.array(TemplateSchema), 'every template, imported or with a dump waiting'), ...errors(...AUTHED) },
});

export const startImport = createRoute({
  method: 'post', path: '/templates/{name}/import', operationId: 'startImport', tags: ['templates'], security: ADMIN,
  summary: 'Start an import of the template\'s dump',
  description: 'Answers once the new version is recorded (status importing); follow it in GET /templates.',
  request: { params: templateParams },
  responses: { 202: json(ImportSchema, 'the import has started (or was running)'), ...errors(400, 404, 409, 422, 504, 507, ...AUTHED) },
});

export const cancelImport = createRoute({
  method: 'delete', path: '/templates/{name}/import', operationId: 'cancelImport', tags: ['templates'], security: ADMIN,
  summary: 'Stop the running import of a template',
  description: 'It leaves nothing behind; the latest version stays latest.',
  request: { params: templateParams },
  responses: { 200: json(ImportSchema, 'the cancelled version'), ...errors(400, 404, ...AUTHED) },
});

export const unpinRepository = createRoute({
  method: 'delete', path: '/repositories/{owner}/{repo}/pin', operationId: 'unpinRepository', tags: ['repositories'], security: ADMIN,
  summary: 'Forget the GitHub ids pinned for a repository',
  description: 'After a rename or a re-creation: the next token or webhook of that name pins its ids anew.',
  request: { params: z.object({ owner: z.string().openapi({ example: 'octo' }), repo: z.string().openapi({ example: 'app' }) }) },
  responses: { 200: json(UnpinSchema, 'forgotten'), ...errors(404, ...AUTHED) },
});

// ---- operations (app.ts) ---------------------------------------------------------------------------------

const health = (path: string, operationId: string) =>
  createRoute({
    method: 'get', path, operationId, tags: ['operations'], security: [],
    summary: 'Liveness, and the storage driver in use',
    responses: { 200: json(HealthSchema, 'Docker answers'), 503: json(HealthSchema, 'Docker does not answer'), ...errors(500) },
  });
export const healthz = health('/healthz', 'healthz');
export const healthzV1 = health('/api/v1/healthz', 'healthzV1');

export const metrics = createRoute({
  method: 'get', path: '/api/v1/metrics', operationId: 'metrics', tags: ['operations'], security: [{ adminToken: [] }, { metricsToken: [] }],
  summary: 'Prometheus metrics',
  responses: {
    200: { description: 'the Prometheus text exposition format', content: { 'text/plain': { schema: z.string() } } },
    ...errors(...AUTHED),
  },
});

export const openApiDocument = createRoute({
  method: 'get', path: '/api/v1/openapi.json', operationId: 'openApiDocument', tags: ['operations'], security: [],
  summary: 'This document (OpenAPI 3.1)',
  responses: { 200: json(z.record(z.string(), z.unknown()), 'the OpenAPI document'), ...errors(500) },
});

export const apiDocs = createRoute({
  method: 'get', path: '/api/v1/docs', operationId: 'apiDocs', tags: ['operations'], security: [],
  summary: 'This document as a web page',
  responses: { 200: { description: 'HTML', content: { 'text/html': { schema: z.string() } } }, ...errors(500) },
});

export const githubWebhook = createRoute({
  method: 'post', path: '/api/v1/webhooks/github', operationId: 'githubWebhook', tags: ['github'], security: [{ githubSignature: [] }],
  summary: 'GitHub webhook deliveries',
  description:
    'Verified over the raw body with the webhook secret, deduplicated by `X-GitHub-Delivery`. pull_request ' +
    'opened/reopened ensures the repository\'s instances, closed destroys them; issue_comment runs `/myaas` commands.',
  request: {
    headers: z.object({
      'x-github-event': z.string().openapi({ description: 'the event name, e.g. pull_request', example: 'pull_request' }),
      'x-github-delivery': z.string().openapi({ description: 'the delivery id (redeliveries repeat it)' }),
    }),
    body: { required: true, content: { 'application/json': { schema: z.record(z.string(), z.unknown()).openapi({ description: 'GitHub\'s event payload' }) } } },
  },
  responses: {
    200: json(WebhookAckSchema, 'a pull_request event handled, a ping, or a redelivery acknowledged'),
    202: json(WebhookAckSchema, 'another event accepted'),
    ...errors(400, 401, 403, 404, 409, 413, 422, 500, 503, 504, 507),
  },
});
