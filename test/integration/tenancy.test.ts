// A shared host that no repository can abuse, on a real controller (Docker, btrfs, PGlite) with
// GitHub's signed example webhooks, the OpenAPI-checked GitHub stand-in and a test OIDC issuer:
// foreign tokens, names across repositories, lifetimes, repository identity, forks, capacity,
// replayed events after a restart, and the comment's password rule.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChinookDumps, importAndWait, startTestController, wipe, type TestController } from '../helpers/controller.js';
import { startFakeGitHub, type FakeGitHub } from '../helpers/fake-github.js';
import { pullRequestClaims, pushClaims, startOidcIssuer, type TestOidcIssuer } from '../helpers/oidc-issuer.js';
import { POOLS, requireDocker, requirePool, until } from '../helpers/testbed.js';
import { pullRequestPayload, webhookRequest } from '../helpers/webhook-fixtures.js';

const SECRET = `whsec-${randomUUID()}`;
const GH_TOKEN = `ghp_${randomUUID().replace(/-/g, '')}`;
const METRICS = `metrics-${randomUUID()}`;
const AUDIENCE = 'https://myaas.test.example';

describe('tenancy on a shared host', () => {
  let t: TestController;
  let gh: FakeGitHub;
  let iss: TestOidcIssuer;
  const env = () => ({
    MYAAS_GITHUB_WEBHOOK_SECRET: SECRET, MYAAS_GITHUB_TOKEN: GH_TOKEN, MYAAS_GITHUB_API_URL: gh.url,
    MYAAS_GITHUB_REPOS: 'octo/app=chinook,octo/site=chinook,octo/big=chinook', MYAAS_OIDC_ISSUER: iss.issuer,
    MYAAS_PUBLIC_URL: AUDIENCE, MYAAS_METRICS_TOKENS: METRICS, MYAAS_GITHUB_SWEEP_INTERVAL: '3600',
    MYAAS_MAX_INSTANCES: '6', MYAAS_MAX_INSTANCES_PER_REPO: '2', MYAAS_GITHUB_COMMENT_PASSWORD: 'true',
  });
  const hook = (payload: unknown, delivery?: string) =>
    fetch(`${t.url}/api/v1/webhooks/github`, webhookRequest('pull_request', payload, { secret: SECRET, delivery }));
  const bearer = async (token: string, method: string, path: string, body?: unknown) => t.api(method, path, body, token);
  const live = async (owner: string) => ((await t.api('GET', '/api/v1/instances')).body as any[]).filter((i) => i.owner === owner);
  const ready = (owner: string) => until(`${owner} to be ready`, async () => (await live(owner)).find((i) => i.status === 'ready'), 120_000);

  beforeAll(async () => {
    await requireDocker();
    requirePool(POOLS.btrfs, 'btrfs');
    gh = await startFakeGitHub({ tokens: [GH_TOKEN] });
    for (const [repo, n] of [['octo/app', 12], ['octo/site', 12], ['octo/app', 13], ['octo/site', 14], ['octo/big', 1], ['octo/big', 2], ['octo/big', 3]] as const) {
      gh.seedPull(repo, { number: n });
    }
    iss = await startOidcIssuer({ audience: AUDIENCE });
    t = await startTestController({ dataDir: join(POOLS.btrfs, `it-tenancy-${process.pid}`), env: env() });
    await addChinookDumps(t.dumpsDir);
    expect((await importAndWait(t, 'chinook')).status).toBe('ready');
    expect((await importAndWait(t, 'chinook-my')).status).toBe('ready');
  });
  afterAll(async () => {
    if (t) await wipe(t);
    await gh?.close();
    await iss?.close();
  });

  it('a token of any repository not configured here gets 403 everywhere; a configured one sees only its templates', async () => {
    const stranger = await iss.mint({ claims: pushClaims('evil/corp', '1', '1') });
    for (const [method, path] of [['GET', '/api/v1/templates'], ['GET', '/api/v1/instances'], ['GET', '/api/v1/metrics'], ['POST', '/api/v1/instances']]) {
      const r = await bearer(stranger, method, path, method === 'POST' ? { template: 'chinook' } : undefined);
      expect([path, r.status, r.body?.error?.code]).toEqual([path, 403, 'forbidden']);
    }
    const app = await iss.mint({ claims: pushClaims('octo/app', '2', '1') });
    const ts = (await bearer(app, 'GET', '/api/v1/templates')).body as any[];
    expect(ts.map((x) => x.name)).toEqual(['chinook']); // chinook-my exists but is not octo/app's
    expect((await bearer(app, 'GET', '/api/v1/metrics')).status).toBe(403);
    const scrape = await fetch(`${t.url}/api/v1/metrics`, { headers: { authorization: `Bearer ${METRICS}` } });
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toContain('# TYPE myaas_instances gauge');
    expect((await bearer(METRICS, 'GET', '/api/v1/templates')).status).toBe(403);
  });

  it('refuses a token minted for another audience (the default audience is this deployment’s URL)', async () => {
    const other = await iss.mint({ claims: pushClaims('octo/app', '3', '1'), audience: 'myaas' });
    const r = await bearer(other, 'GET', '/api/v1/templates');
    expect(r.status).toBe(401);
    expect(r.body.error.message).toContain(`but this controller expects "${AUDIENCE}"`);
  });

  it('the same pull request number in two repositories gets two instances with distinct names', async () => {
    expect((await hook(pullRequestPayload('opened', { repo: 'octo/app', number: 12, repoId: 100001 }))).status).toBe(200);
    expect((await hook(pullRequestPayload('opened', { repo: 'octo/site', number: 12, repoId: 100001 }))).status).toBe(200);
    const a = await ready('gh:octo/app#12');
    const b = await ready('gh:octo/site#12');
    expect([a.name, b.name]).toEqual(['octo-app-pr-12-chinook', 'octo-site-pr-12-chinook']);
    // A pull request's instance lives a week past its last event, not forever.
    expect(Date.parse(a.expiresAt) - Date.now()).toBeGreaterThan(6 * 86400_000);
  });

  it('a run’s token cannot pick a name (or squat another owner’s), nor ask never to expire; its instance always expires', async () => {
    const run = await iss.mint({ claims: pushClaims('octo/app', '55', '1') });
    const named = await bearer(run, 'POST', '/api/v1/instances', { template: 'chinook', name: 'octo-app-pr-13-chinook' });
    expect(named.status).toBe(403);
    expect(named.body.error.message).toContain('cannot choose the instance name');
    const forever = await bearer(run, 'POST', '/api/v1/instances', { template: 'chinook', ttl: 0 });
    expect(forever.status).toBe(403);
    const made = await bearer(run, 'POST', '/api/v1/instances', { template: 'chinook' });
    expect(made.status).toBe(201);
    expect(made.body.name).toBe('octo-app-run-55-1-chinook');
    const left = Date.parse(made.body.expiresAt) - Date.now();
    expect(left).toBeGreaterThan(2.9 * 3600_000);
    expect(left).toBeLessThan(3.1 * 3600_000);
    await t.api('DELETE', `/api/v1/instances/${made.body.id}`);
  });

  it('a repository re-created under the same name (another GitHub id) inherits nothing: webhooks and tokens are refused', async () => {
    const res = await hook(pullRequestPayload('opened', { repo: 'octo/app', number: 13, repoId: 9999 }));
    expect(res.status).toBe(403);
    expect((await res.json()).error.message).toMatch(/octo\/app has GitHub id 9999, but this controller knows octo\/app as id 100001/);
    expect(await live('gh:octo/app#13')).toEqual([]);
    const token = await iss.mint({ claims: { ...pullRequestClaims('octo/app', 12), repository_id: '9999' } });
    expect((await bearer(token, 'GET', '/api/v1/instances')).status).toBe(403);
    // An admin who means it forgets the pin; the next sight pins the new id.
    expect((await t.api('DELETE', '/api/v1/repositories/octo/app/pin')).status).toBe(200);
    expect((await hook(pullRequestPayload('opened', { repo: 'octo/app', number: 13, repoId: 9999 }))).status).toBe(200);
    await ready('gh:octo/app#13');
  });

  it('a fork’s pull request gets nothing, also through the Action’s token', async () => {
    expect((await hook(pullRequestPayload('opened', { repo: 'octo/site', number: 14, repoId: 100001, fork: true }))).status).toBe(200);
    const token = await iss.mint({ claims: pullRequestClaims('octo/site', 14) });
    const r = await bearer(token, 'POST', '/api/v1/instances', { template: 'chinook' });
    expect(r.status).toBe(403);
    expect(r.body.error.message).toContain('comes from a fork');
  });

  it('past a repository’s cap its pull requests wait, the comment says so, and they start when a place frees', async () => {
    for (const n of [1, 2, 3]) expect((await hook(pullRequestPayload('opened', { repo: 'octo/big', number: n, repoId: 100001 }))).status).toBe(200);
    await ready('gh:octo/big#1');
    await ready('gh:octo/big#2');
    const third = (await live('gh:octo/big#3'))[0];
    expect(third.status).toBe('queued');
    await until('the waiting comment', async () => gh.comments('octo/big', 3).find((c) => c.body.includes('waiting for capacity')));
    expect((await hook(pullRequestPayload('closed', { repo: 'octo/big', number: 1, repoId: 100001 }))).status).toBe(200);
    await ready('gh:octo/big#3');
  });

  it('shows the password in the comment only for a private repository', async () => {
    const pub = await until('octo/site#12 ready comment', async () => gh.comments('octo/site', 12).find((c) => c.body.includes('✅ ready')));
    const site = (await t.api('GET', `/api/v1/instances/${(await live('gh:octo/site#12'))[0].id}`)).body;
    expect(pub.body).not.toContain(site.connection.password);
    // Seen as private now (the webhook says so): the next comment carries the password.
    expect((await hook(pullRequestPayload('synchronize', { repo: 'octo/site', number: 12, repoId: 100001, private: true }))).status).toBe(200);
    await t.api('POST', `/api/v1/instances/${site.id}/reset?wait=60`);
    await until('the password in the comment', async () => gh.comments('octo/site', 12).find((c) => c.body.includes(site.connection.password)));
  });

  it('an old signed "closed" replayed with a new delivery id after a restart does not destroy a reopened pull request', async () => {
    const t1 = '2024-01-01T10:00:00Z';
    const t2 = '2024-01-01T11:00:00Z';
    const closed = pullRequestPayload('closed', { repo: 'octo/site', number: 12, repoId: 100001, updatedAt: t1 });
    expect((await hook(closed)).status).toBe(200);
    await until('closed', async () => (await live('gh:octo/site#12')).length === 0);
    expect((await hook(pullRequestPayload('reopened', { repo: 'octo/site', number: 12, repoId: 100001, updatedAt: t2 }))).status).toBe(200);
    await ready('gh:octo/site#12');
    await t.stop();
    t = await startTestController({ dataDir: t.dataDir, env: env() });
    expect((await hook(closed, randomUUID())).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect((await live('gh:octo/site#12')).map((i) => i.status)).toEqual(['ready']);
  });
});
