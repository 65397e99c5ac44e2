// The stand-in's new routes refuse what GitHub would refuse, so zero violations in the ChatOps and
// manifest tests means something.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGitHub, type FakeGitHub } from '../helpers/fake-github.js';

const TOKEN = 'ghp_fake_selftest';
let gh: FakeGitHub;
beforeAll(async () => {
  gh = await startFakeGitHub({ tokens: [TOKEN] });
  gh.seedPull('octo/app', { number: 3, labels: ['myaas:reset'] });
});
afterAll(async () => gh?.close());

const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(`${gh.url}${path}`, {
    method,
    headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json', 'user-agent': 'selftest', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    redirect: 'manual',
  });
const form = (manifest: unknown, path = '/settings/apps/new?state=s') =>
  call('POST', path, new URLSearchParams({ manifest: JSON.stringify(manifest) }).toString(), { 'content-type': 'application/x-www-form-urlencoded' });
const GOOD = {
  name: 'selftest', url: 'https://c.example', hook_attributes: { url: 'https://c.example/hook' }, redirect_url: 'http://127.0.0.1:1/cb',
  public: false, default_permissions: { issues: 'write', pull_requests: 'read' }, default_events: ['pull_request', 'issue_comment'],
};

describe('the stand-in checks the ChatOps routes', () => {
  it('reactions: known contents only, on existing comments; the same one twice is 200', async () => {
    const c = gh.seedComment('octo/app', 3, '/myaas reset');
    expect((await call('POST', `/repos/octo/app/issues/comments/${c.id}/reactions`, { content: 'party' })).status).toBe(422);
    expect((await call('POST', `/repos/octo/app/issues/comments/${c.id}/reactions`, {})).status).toBe(422);
    expect((await call('POST', '/repos/octo/app/issues/comments/999999/reactions', { content: 'eyes' })).status).toBe(404);
    expect((await call('POST', `/repos/octo/app/issues/comments/${c.id}/reactions`, { content: 'eyes' })).status).toBe(201);
    expect((await call('POST', `/repos/octo/app/issues/comments/${c.id}/reactions`, { content: 'eyes' })).status).toBe(200);
    expect(gh.reactions(c.id)).toEqual([{ content: 'eyes', user: 'myaas-user' }]);
    expect(gh.violations.splice(0)).toHaveLength(2);
  });

  it('labels and permissions', async () => {
    expect((await call('DELETE', '/repos/octo/app/issues/3/labels/nope')).status).toBe(404);
    expect((await call('DELETE', '/repos/octo/app/issues/3/labels/myaas%3Areset')).status).toBe(200);
    expect(gh.labels('octo/app', 3)).toEqual([]);
    gh.seedPermission('octo/app', 'Alice', 'maintain');
    const p = await (await call('GET', '/repos/octo/app/collaborators/alice/permission')).json();
    expect([p.permission, p.role_name]).toEqual(['write', 'maintain']);
    expect((await call('GET', '/repos/octo/app/collaborators/alice/permission', undefined, { authorization: 'token wrong' })).status).toBe(401);
    expect(gh.violations.splice(0)).toHaveLength(1);
  });
});

describe('the stand-in checks the manifest flow', () => {
  it('refuses manifests GitHub would refuse', async () => {
    const bad: [unknown, RegExp][] = [
      [{ ...GOOD, url: undefined }, /url \(the app homepage\) is required/],
      [{ ...GOOD, hook_attribute: { url: 'https://x' } }, /unknown manifest key hook_attribute/],
      [{ ...GOOD, default_permissions: { pull_request: 'read' } }, /unknown permission pull_request/],
      [{ ...GOOD, default_permissions: { issues: 'admin' } }, /permission issues=admin/],
      [{ ...GOOD, default_events: ['pull_requests'] }, /unknown event pull_requests/],
      [{ ...GOOD, default_permissions: { metadata: 'read' } }, /event pull_request needs one of the permissions pull_requests/],
      [{ ...GOOD, name: 'x'.repeat(35) }, /1 to 34 characters/],
      ['not json', /not JSON|not a JSON object/],
    ];
    for (const [m, re] of bad) {
      const res = typeof m === 'string'
        ? await call('POST', '/settings/apps/new', `manifest=${m}`, { 'content-type': 'application/x-www-form-urlencoded' })
        : await form(m);
      expect(res.status, String(re)).toBe(422);
      expect(gh.violations.splice(0), String(re)).toEqual([expect.stringMatching(re)]);
    }
    expect((await call('POST', '/settings/apps/new', { manifest: GOOD })).status).toBe(422);
    expect(gh.violations.splice(0)).toEqual([expect.stringMatching(/x-www-form-urlencoded/)]);
  });

  it('redirects with a one-time code and the state; the code converts once, without auth', async () => {
    const res = await form(GOOD, '/organizations/acme/settings/apps/new?state=st4te');
    expect(res.status).toBe(302);
    const to = new URL(String(res.headers.get('location')));
    expect(`${to.origin}${to.pathname}`).toBe('http://127.0.0.1:1/cb');
    expect(to.searchParams.get('state')).toBe('st4te');
    const code = to.searchParams.get('code') as string;
    const convert = () => fetch(`${gh.url}/app-manifests/${code}/conversions`, { method: 'POST', headers: { 'user-agent': 'selftest' } });
    const first = await convert();
    expect(first.status).toBe(201);
    const app = await first.json();
    expect(app).toMatchObject({ name: 'selftest', slug: 'selftest', owner: { login: 'acme', type: 'Organization' }, permissions: { metadata: 'read', issues: 'write', pull_requests: 'read' } });
    expect(app.pem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect((await convert()).status).toBe(404);
    expect(gh.violations).toEqual([]);
  });
});
