// The OpenAPI document: valid OpenAPI 3.1, naming every route the app serves, and every reply of
// every operation conforming to it. The app is the real one (createApp) over the core's fakes.
import { createHmac } from 'node:crypto';
import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../controller/domain/errors.js';
import { createRepositoryGate } from '../../controller/github/repository-gate.js';
import type { OidcIdentity } from '../../controller/github/oidc.js';
import { createApp } from '../../controller/http/app.js';
import { createAuth } from '../../controller/http/auth.js';
import { createWebhookRoutes } from '../../controller/http/webhooks.js';
import { buildCore, type Core } from '../helpers/fakes/core.js';
import { createSpecChecker, type SpecChecker } from '../helpers/openapi-check.js';

const ADMIN = 'admin-token';
const METRICS = 'metrics-token';
const SECRET = 'webhook-secret';
/** OIDC tokens of the fake verifier: three dot-separated parts, as a JWT has */
const PR_TOKEN = 'oidc.pull.12';
const STRANGER_TOKEN = 'oidc.other.1';
const IDENTITIES: Record<string, OidcIdentity> = {
  [PR_TOKEN]: { repository: 'octo/app', ref: 'refs/pull/12/merge', runId: '55', runAttempt: '1', sub: 'repo:octo/app:pull_request' },
  [STRANGER_TOKEN]: { repository: 'evil/app', ref: 'refs/heads/main', runId: '9', runAttempt: '1', sub: 'repo:evil/app:ref:refs/heads/main' },
};

function build(core: Core = buildCore()) {
  const gate = createRepositoryGate({ repos: { 'octo/app': ['chinook'] }, pins: {}, allowForks: false, store: core.store, clock: core.clock, log: core.log });
  const oidc = {
    async verify(token: string) {
      const id = IDENTITIES[token];
      if (!id) throw new AppError('unauthorized', 'not a token of the test issuer');
      return id;
    },
  };
  const webhooks = createWebhookRoutes({
    secret: SECRET,
    deliveries: { seen: (id) => core.store.deliverySeen(id), record: (id) => core.store.recordDelivery(id) },
    pullRequests: { handle: async () => ({ result: 'seen' as const, owner: { kind: 'api' as const, name: 'x' } }) },
    log: core.log,
  });
  const app = createApp({
    api: { instances: core.instances, templates: core.templates, repos: { 'octo/app': ['chinook'] }, gate },
    auth: createAuth({ apiTokens: [ADMIN], metricsTokens: [METRICS], oidc, gate }),
    webhooks,
    health: async () => ({ ok: true, storage: 'btrfs', docker: 'ok', version: '0.1.0' }),
    metrics: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'myaas_up 1\n' }),
    log: core.log,
  });
  return { app, core };
}

async function documentOf(app: ReturnType<typeof build>['app']) {
  const r = await app.request('/api/v1/openapi.json');
  expect(r.status).toBe(200);
  return r.json();
}

type Call = (method: string, path: string, opts?: { token?: string | null; body?: unknown; headers?: Record<string, string> }) => Promise<{ status: number; body: any; headers: Headers }>;

/** Calls the app as a client would; every reply is checked against the document. */
function caller(app: ReturnType<typeof build>['app'], checker: SpecChecker): Call {
  return async (method, path, opts = {}) => {
    const token = opts.token === undefined ? ADMIN : opts.token;
    const res = await app.request(path, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...opts.headers },
      body: opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body),
    });
    const text = await res.text();
    const type = res.headers.get('content-type');
    const body = /json/.test(type ?? '') ? JSON.parse(text) : text;
    expect(checker.check({ method, path, status: res.status, contentType: type, body }), `${method} ${path}`).toEqual([]);
    return { status: res.status, body, headers: res.headers };
  };
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 (swagger-parser: the official schema plus its own rules)', async () => {
    const doc = await documentOf(build().app);
    expect(doc.openapi).toBe('3.1.0');
    const api = await SwaggerParser.validate(structuredClone(doc));
    expect(Object.keys(api.paths ?? {}).length).toBeGreaterThanOrEqual(12);
  });

  it('names every route the app serves, with an operation id, its security and an error shape for every failure', async () => {
    const { app } = build();
    const doc = await documentOf(app);
    const served = new Set(
      app.routes
        .filter((r) => r.method !== 'ALL' && /^\/(api\/v1\/|healthz$)/.test(r.path))
        .map((r) => `${r.method} ${r.path.replace(/:([^/]+)/g, '{$1}')}`),
    );
    const described = new Set<string>();
    const ids: string[] = [];
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        described.add(`${method.toUpperCase()} ${path}`);
        ids.push(op.operationId);
        expect(op.security, `${method} ${path}`).toBeDefined();
        const schemes = op.security.flatMap((r: object) => Object.keys(r));
        for (const s of schemes) expect(doc.components.securitySchemes[s], s).toBeDefined();
        if (schemes.some((s: string) => s !== 'githubSignature')) {
          expect(Object.keys(op.responses), `${method} ${path}`).toEqual(expect.arrayContaining(['401', '403']));
        }
        for (const [status, r] of Object.entries<any>(op.responses)) {
          if (Number(status) >= 400 && !path.endsWith('healthz')) {
            expect(r.content['application/json'].schema, `${method} ${path} ${status}`).toEqual({ $ref: '#/components/schemas/Error' });
          }
        }
      }
    }
    expect([...described].sort()).toEqual([...served].sort());
    expect(new Set(ids).size).toBe(ids.length);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['adminToken', 'githubSignature', 'metricsToken', 'oidcToken']);
  });

  it('describes what every operation answers, successes and failures alike', async () => {
    const { app, core } = build();
    const checker = createSpecChecker(await documentOf(app));
    const call = caller(app, checker);
    await core.addVersion('chinook');
    core.world.dumps.put({ template: 'chinook', engine: 'postgres', format: 'sql', file: 'chinook.sql', afterFile: null, sizeBytes: 1, fingerprint: '1:1' });

    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/api/v1/healthz')).body).toMatchObject({ ok: true, storage: 'btrfs' });
    expect((await call('GET', '/api/v1/openapi.json', { token: null })).status).toBe(200);
    expect((await call('GET', '/api/v1/docs', { token: null })).status).toBe(200);
    expect((await call('GET', '/api/v1/metrics', { token: METRICS })).body).toBe('myaas_up 1\n');
    expect((await call('GET', '/api/v1/metrics', { token: PR_TOKEN })).status).toBe(403);
    expect((await call('GET', '/api/v1/templates')).body[0]).toMatchObject({ name: 'chinook', engine: 'postgres' });
    expect((await call('GET', '/api/v1/templates', { token: STRANGER_TOKEN })).status).toBe(403);

    // instances, as an admin and as a pull request's workflow
    const made = await call('POST', '/api/v1/instances?wait=5', { body: { template: 'chinook', name: 'alpha', ttl: '2h' } });
    expect(made.status).toBe(201);
    await core.settle();
    const got = await call('GET', `/api/v1/instances/${made.body.id}`);
    expect(got.body).toMatchObject({ status: 'ready', connection: { host: 'db.test' } });
    const diff = await call('POST', `/api/v1/instances/${made.body.id}/schema-diff`);
    expect(diff.status).toBe(200);
    expect(diff.body).toMatchObject({ instance: made.body.id, warnings: 0 });
    expect((await call('POST', '/api/v1/instances/inope/schema-diff')).status).toBe(404);
    expect((await call('POST', '/api/v1/instances', { body: { template: 'chinook', name: 'alpha', ttl: '2h' } })).status).toBe(200);
    const mine = await call('POST', '/api/v1/instances', { token: PR_TOKEN, body: { template: 'chinook' } });
    expect(mine.body).toMatchObject({ created: true, owner: 'gh:octo/app#12', connection: null });
    expect((await call('GET', '/api/v1/instances', { token: PR_TOKEN })).body.map((i: any) => i.id)).toEqual([mine.body.id]);
    expect((await call('GET', `/api/v1/instances/${made.body.id}`, { token: PR_TOKEN })).status).toBe(404);
    expect((await call('POST', '/api/v1/instances', { token: PR_TOKEN, body: { template: 'chinook', name: 'mine' } })).status).toBe(403);
    expect((await call('POST', `/api/v1/instances/${made.body.id}/reset`)).status).toBe(202);
    await core.settle();
    expect((await call('DELETE', `/api/v1/instances/${made.body.id}`)).status).toBe(202);
    await core.settle();
    expect((await call('DELETE', `/api/v1/instances/${made.body.id}`)).body.status).toBe('destroyed');
    expect((await call('POST', `/api/v1/instances/${made.body.id}/reset`)).status).toBe(409);

    // failures
    expect((await call('GET', '/api/v1/instances', { token: null })).status).toBe(401);
    expect((await call('GET', '/api/v1/instances', { token: 'wrong' })).status).toBe(401);
    expect((await call('GET', '/api/v1/instances', { token: METRICS })).status).toBe(403);
    expect((await call('GET', '/api/v1/instances/inope')).status).toBe(404);
    expect((await call('GET', '/api/v1/instances/inope?wait=soon')).status).toBe(404);
    expect((await call('POST', '/api/v1/instances', { body: '{not json' })).body.error.code).toBe('bad_request');
    expect((await call('POST', '/api/v1/instances', { body: { name: 'x' } })).body.error.message).toMatch(/template/);
    expect((await call('POST', '/api/v1/instances', { body: { template: 'Not Valid' } })).body.error.code).toBe('invalid_name');
    expect((await call('POST', '/api/v1/instances', { body: { template: 'chinook', ttl: 'forever' } })).status).toBe(400);
    expect((await call('POST', '/api/v1/instances', { body: { template: 'nosuch' } })).status).toBe(404);
    expect((await call('GET', '/api/v1/nosuch')).status).toBe(404);

    // templates and repositories
    const started = await call('POST', '/api/v1/templates/chinook/import');
    expect(started.status).toBe(202);
    expect((await call('DELETE', '/api/v1/templates/chinook/import')).status).toBe(200);
    expect((await call('DELETE', '/api/v1/templates/chinook/import')).status).toBe(404);
    expect((await call('POST', '/api/v1/templates/Bad!/import')).status).toBe(400);
    expect((await call('POST', '/api/v1/templates/chinook/import', { token: PR_TOKEN })).status).toBe(403);
    expect((await call('DELETE', '/api/v1/repositories/octo/app/pin')).status).toBe(404);
    await core.store.pinRepository({ name: 'octo/app', repoId: 7, ownerId: 8, private: false, firstSeen: new Date(), lastSeen: new Date() });
    expect((await call('DELETE', '/api/v1/repositories/octo/app/pin')).body).toEqual({ repository: 'octo/app', pinned: false });

    // webhooks: signed, unsigned, redelivered
    const ping = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
    const signed = { 'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(ping).digest('hex')}`, 'x-github-event': 'ping', 'x-github-delivery': 'd-1' };
    expect((await call('POST', '/api/v1/webhooks/github', { token: null, body: ping, headers: signed })).body).toEqual({ ok: true, pong: true });
    // a ping is not recorded (answering it twice is harmless); a delivery handled before is a duplicate
    expect((await call('POST', '/api/v1/webhooks/github', { token: null, body: ping, headers: signed })).body).toEqual({ ok: true, pong: true });
    await core.store.recordDelivery('d-2');
    expect((await call('POST', '/api/v1/webhooks/github', { token: null, body: ping, headers: { ...signed, 'x-github-delivery': 'd-2' } })).body).toEqual({ ok: true, duplicate: true });
    expect((await call('POST', '/api/v1/webhooks/github', { token: null, body: ping })).status).toBe(401);

    // every operation was called above
    const ops = Object.values<any>((await documentOf(app)).paths).flatMap((item) => Object.values<any>(item).map((op) => op.operationId));
    expect([...checker.seen.keys()].sort()).toEqual(ops.sort());
  });

  it('is served as a page without a token, script or anything from elsewhere', async () => {
    const { app } = build();
    const doc = await documentOf(app);
    const r = await app.request('/api/v1/docs');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const html = await r.text();
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      expect(html).toContain(path);
      for (const op of Object.values<any>(item)) expect(html).toContain(`id="op-${op.operationId}"`);
    }
    for (const name of Object.keys(doc.components.schemas)) expect(html).toContain(`id="schema-${name}"`);
    expect(html).not.toMatch(/<script|src="http|href="http/);
  });
});
