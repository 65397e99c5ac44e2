// The status page without a browser: what app/status.ts gathers over the fake core, and the page's
// routes: nothing but the login form without a session or admin bearer token, the session cookie's
// flags, escaping, and the headers that keep the page to itself. (The browser test is in
// test/integration/status-page.test.ts.)
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { StatusSnapshot } from '../../controller/app/ports.js';
import { createStatusService } from '../../controller/app/status.js';
import { githubWebUrl, loadConfig } from '../../controller/config.js';
import { createPaths } from '../../controller/domain/layout.js';
import { apiOwner, pullOwner, runOwner } from '../../controller/domain/owner.js';
import { adminTokenCheck } from '../../controller/http/auth.js';
import { bytes, duration, ownerLink, relative } from '../../controller/http/status-page-format.js';
import { createSessionBook } from '../../controller/http/status-page-session.js';
import { CSS, CSS_HASH } from '../../controller/http/status-page-style.js';
import { createStatusPage } from '../../controller/http/status-page.js';
import { buildCore, DATA } from '../helpers/fakes/core.js';
import { createMemoryLogger } from '../helpers/webhook-fixtures.js';

const TOKEN = 'admin-token-1';

describe('status service', () => {
  it('templates, instances with memory and disk, the warm pool, failures, the pool; no password anywhere', async () => {
    const core = buildCore();
    const v = await core.addVersion('chinook');
    const pr = await core.instances.create({ owner: pullOwner('Octo/App', 7), template: 'chinook' });
    const failed = await core.instances.create({ owner: apiOwner('bob'), template: 'missing-template' }).catch((e) => e);
    expect(failed).toBeInstanceOf(Error); // no such template: refused at create, not a failure row
    core.world.dumps.put({ template: 'shop', engine: 'mariadb', format: 'sql', file: 'shop.sql', afterFile: null, sizeBytes: 1, fingerprint: '1:1' });
    core.world.faults.exec = async () => ({ exitCode: 1, stderr: 'ERROR 1064: <b>bad</b> SQL' });
    const shop = await (await core.importer.start('shop')).done;
    await core.settle();

    const status = createStatusService({
      store: core.store, templates: core.templates, runtime: core.world.runtime, storage: core.world.storage, files: core.world.files,
      paths: createPaths(DATA), clock: core.clock, warmPoolTarget: 2, log: core.log,
    });
    const s = await status.snapshot();
    expect(s.storage).toBe(core.world.storage.name);
    expect(s.pool).toEqual({ totalBytes: 1 << 30, usedBytes: expect.any(Number), freeBytes: expect.any(Number) });
    expect(s.templates.map((t) => [t.name, t.engine, t.latest])).toEqual([['chinook', 'postgres', v.id], ['shop', 'mariadb', null]]);
    expect(s.templates[0]).toMatchObject({ dataAsOf: v.readyAt, sizeBytes: 1234 });
    expect(s.templates[0].versions[0]).toMatchObject({ id: v.id, status: 'ready', instances: 1, phase: null, elapsedMs: null });
    expect(s.instances).toHaveLength(1);
    expect(s.instances[0]).toMatchObject({
      id: pr.instance.id, owner: 'gh:octo/app#7', ownerKey: { kind: 'pull', repo: 'octo/app', number: 7 }, status: 'ready',
      versionId: v.id, memoryBytes: 10_000_000, dataBytes: 1234, ownBytes: 56, error: null,
    });
    expect(s.failures).toEqual([{ kind: 'version', id: shop.id, template: 'shop', name: null, at: shop.createdAt, error: expect.stringContaining('<b>bad</b>') }]);
    expect(s.warmPool).toEqual({ target: 2, byTemplate: [] });
    const text = JSON.stringify(s);
    expect(text).not.toContain(pr.instance.password);
    expect(text).not.toContain(v.adminPassword);

    const r = await status.readings();
    expect(r.instances).toEqual([{ template: 'chinook', status: 'ready', count: 1 }]);
    expect(r.versions).toEqual(expect.arrayContaining([{ template: 'chinook', status: 'ready', count: 1 }, { template: 'shop', status: 'failed', count: 1 }]));
    expect(r.pool).toEqual(s.pool);
  });
});

describe('GitHub web URL for pull request links', () => {
  it('follows the API URL (github.com, GHE.com, Enterprise Server) unless MYAAS_GITHUB_WEB_URL says otherwise', () => {
    expect(githubWebUrl('https://api.github.com')).toBe('https://github.com');
    expect(githubWebUrl('https://api.octocorp.ghe.com')).toBe('https://octocorp.ghe.com');
    expect(githubWebUrl('https://ghe.example.com/api/v3')).toBe('https://ghe.example.com');
    expect(githubWebUrl('https://ghe.example.com:8443/api/v3/')).toBe('https://ghe.example.com:8443');
    expect(loadConfig({}).github.webUrl).toBe('https://github.com');
    expect(loadConfig({ MYAAS_GITHUB_API_URL: 'https://ghe.example.com/api/v3' }).github.webUrl).toBe('https://ghe.example.com');
    expect(loadConfig({ MYAAS_GITHUB_WEB_URL: 'https://git.example.com/' }).github.webUrl).toBe('https://git.example.com');
  });
});

describe('status page formats', () => {
  it('bytes, durations, relative times and owner links (GitHub Enterprise too)', () => {
    expect([bytes(null), bytes(512), bytes(1536), bytes(30 * 2 ** 20), bytes(5.5 * 2 ** 30)]).toEqual(['—', '512 B', '1.5 KiB', '30 MiB', '5.5 GiB']);
    expect([duration(4_000), duration(95_000), duration(2 * 3600_000 + 60_000), duration(3 * 86400_000)]).toEqual(['4 s', '1 min 35 s', '2 h 1 min', '3 d']);
    const now = new Date('2026-05-01T12:00:00Z');
    expect(relative(new Date('2026-05-01T11:57:00Z'), now)).toBe('3 min ago');
    expect(relative(new Date('2026-05-01T14:00:00Z'), now)).toBe('in 2 h');
    expect(ownerLink('gh:octo/app#7', pullOwner('octo/app', 7), 'https://github.com')).toEqual({ text: 'octo/app#7', href: 'https://github.com/octo/app/pull/7' });
    expect(ownerLink('gh:octo/app#7', pullOwner('octo/app', 7), 'https://ghe.example.com/')).toEqual({ text: 'octo/app#7', href: 'https://ghe.example.com/octo/app/pull/7' });
    expect(ownerLink('x', runOwner('octo/app', '99', '2'), 'https://github.com').href).toBe('https://github.com/octo/app/actions/runs/99/attempts/2');
    expect(ownerLink('api:alice', apiOwner('alice'), 'https://github.com')).toEqual({ text: 'api: alice', href: null });
  });
});

function snapshot(): StatusSnapshot {
  const at = new Date('2026-05-01T12:00:00Z');
  return {
    at, storage: 'btrfs', dataDir: '/var/lib/myaas',
    pool: { totalBytes: 20 * 2 ** 30, usedBytes: 5 * 2 ** 30, freeBytes: 15 * 2 ** 30 },
    templates: [{
      name: 'chinook', engine: 'postgres', latest: 'v1', dataAsOf: at, sizeBytes: 30 * 2 ** 20,
      versions: [
        { id: 'v2', status: 'importing', createdAt: at, readyAt: null, sizeBytes: null, error: null, phase: 'loading chinook.sql', elapsedMs: 65_000, instances: 0 },
        { id: 'v1', status: 'ready', createdAt: at, readyAt: at, sizeBytes: 30 * 2 ** 20, error: null, phase: null, elapsedMs: null, instances: 1 },
      ],
    }],
    dumpProblems: ['<img src=x onerror=alert(1)>.sql is not a dump'],
    instances: [{
      id: 'i1', name: 'pr-7-chinook', owner: 'gh:octo/app#7', ownerKey: pullOwner('octo/app', 7), template: 'chinook', versionId: 'v1',
      status: 'ready', createdAt: new Date('2026-05-01T11:00:00Z'), readyAt: at, expiresAt: null, error: null,
      memoryBytes: 40 * 2 ** 20, dataBytes: 30 * 2 ** 20, ownBytes: 2 * 2 ** 20,
    }],
    warmPool: { target: 0, byTemplate: [] },
    failures: [{ kind: 'instance', id: 'i9', template: 'chinook', name: 'broken', at, error: 'probe failed: <script>alert("x")</script>' }],
  };
}

function page(over: { tokens?: string[]; now?: () => number } = {}) {
  const sessions = createSessionBook({ ttlMs: 60_000, now: over.now });
  const app = new Hono();
  app.route('/', createStatusPage({
    status: { snapshot: async () => snapshot() },
    isAdminToken: adminTokenCheck(over.tokens ?? [TOKEN]),
    tokensConfigured: (over.tokens ?? [TOKEN]).length > 0,
    githubWebUrl: 'https://github.com',
    log: createMemoryLogger(),
    sessions,
    sessionTtlMs: 60_000,
  }));
  const login = (token: string, headers: Record<string, string> = {}) =>
    app.request('/login', { method: 'POST', body: new URLSearchParams({ token }), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
  return { app, login };
}

const cookieOf = (res: Response) => /myaas_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? null;

describe('status page routes', () => {
  it('without a session only the login form renders, with nothing of the controller in it', async () => {
    const { app } = page();
    const res = await app.request('/');
    expect(res.status).toBe(401);
    const html = await res.text();
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('<form class="login" method="post" action="/login">');
    expect(html).toContain('type="password"');
    expect(html).not.toContain('pr-7-chinook');
    expect(html).not.toContain('/var/lib/myaas');
    expect((await app.request('/', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await app.request('/', { headers: { cookie: 'myaas_session=made-up' } })).status).toBe(401);
  });

  it('a wrong token is refused; the right one sets an HttpOnly SameSite=Strict session cookie and redirects to /', async () => {
    const { app, login } = page();
    const bad = await login('not-the-token');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();
    expect(await bad.text()).toContain('Unknown API token');

    const ok = await login(TOKEN);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/');
    const cookie = ok.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\//);
    expect(cookie).not.toMatch(/Secure/);
    expect(cookie).not.toContain(TOKEN);

    const res = await app.request('/', { headers: { cookie: `myaas_session=${cookieOf(ok)}` } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('pr-7-chinook');
    expect(html).toContain('href="https://github.com/octo/app/pull/7"');
    expect(html).toContain('loading chinook.sql · 1 min 5 s');
    expect(html).toContain('40 MiB');
    expect(html).toContain('2.0 MiB / 30 MiB');
    expect(html).toContain('15 GiB free of 20 GiB · 25%');
    expect(html).not.toContain(TOKEN);
  });

  it('the cookie is Secure behind TLS', async () => {
    const { login } = page();
    const res = await login(TOKEN, { 'x-forwarded-proto': 'https' });
    expect(res.headers.get('set-cookie')).toMatch(/; Secure/);
  });

  it('an admin bearer token works without a session (scripts); OIDC-shaped or unknown tokens do not', async () => {
    const { app } = page();
    expect((await app.request('/', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await app.request('/', { headers: { authorization: 'Bearer a.b.c' } })).status).toBe(401);
  });

  it('escapes every value: an error or dump problem with HTML stays text', async () => {
    const { app } = page();
    const html = await (await app.request('/', { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('headers: no script, only the stylesheet by its hash, no framing, no caching', async () => {
    const { app } = page();
    for (const res of [await app.request('/'), await app.request('/', { headers: { authorization: `Bearer ${TOKEN}` } })]) {
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain(`style-src '${CSS_HASH}'`);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('script-src');
      expect(res.headers.get('cache-control')).toBe('no-store');
      const html = await res.text();
      expect(html).toContain(`<style>${CSS}</style>`);
      expect(html).not.toContain('<script');
      expect(html).not.toMatch(/ style="/);
    }
  });

  it('a login posted from another site is refused; logout ends the session', async () => {
    const { app, login } = page();
    const cross = await login(TOKEN, { 'sec-fetch-site': 'cross-site' });
    expect(cross.status).toBe(403);
    expect(cross.headers.get('set-cookie')).toBeNull();

    const id = cookieOf(await login(TOKEN, { 'sec-fetch-site': 'same-origin' }))!;
    const out = await app.request('/logout', { method: 'POST', headers: { cookie: `myaas_session=${id}` } });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/myaas_session=;/);
    expect((await app.request('/', { headers: { cookie: `myaas_session=${id}` } })).status).toBe(401);
  });

  it('sessions expire', async () => {
    let now = 1_000_000;
    const { app, login } = page({ now: () => now });
    const id = cookieOf(await login(TOKEN))!;
    expect((await app.request('/', { headers: { cookie: `myaas_session=${id}` } })).status).toBe(200);
    now += 60_001;
    expect((await app.request('/', { headers: { cookie: `myaas_session=${id}` } })).status).toBe(401);
  });

  it('with no API tokens configured nobody logs in, and the form says why', async () => {
    const { app, login } = page({ tokens: [] });
    expect(await (await app.request('/')).text()).toContain('set MYAAS_API_TOKENS');
    expect((await login('')).status).toBe(401);
  });
});
