// GET /api/v1/instances over the memory store: filters, pages by cursor and the Link header, and the
// refusals of a bad query. The same behaviour over the real state DBs is in test/integration/api-list.
import { describe, expect, it } from 'vitest';
import { createApp } from '../../controller/http/app.js';
import { createAuth } from '../../controller/http/auth.js';
import { decodeCursor, encodeCursor } from '../../controller/http/paging.js';
import { buildCore, type Core } from '../helpers/fakes/core.js';
import { instanceRow as row } from '../helpers/instance-rows.js';
import { createSpecChecker } from '../helpers/openapi-check.js';

const ADMIN = 'admin-token';

async function setup() {
  const core: Core = buildCore();
  for (let n = 0; n < 250; n++) await core.store.getOrCreateInstance(row(n));
  await core.store.getOrCreateInstance(row(900, { owner: 'pool:w1', name: 'warm-1' }));
  await core.store.getOrCreateInstance(row(901, { status: 'destroyed', name: 'gone' }));
  const gate = { admit: async () => [], admitPullRequest: async () => undefined, forget: async () => false };
  const app = createApp({
    api: { instances: core.instances, templates: core.templates, repos: {}, gate },
    auth: createAuth({ apiTokens: [ADMIN], metricsTokens: [], oidc: null, gate }),
    webhooks: null,
    health: async () => ({ ok: true, storage: 'btrfs', docker: 'ok', version: '0.1.0' }),
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
    log: core.log,
  });
  const checker = createSpecChecker(await (await app.request('/api/v1/openapi.json')).json());
  const get = async (path: string) => {
    const r = await app.request(path, { headers: { authorization: `Bearer ${ADMIN}` } });
    const body = await r.json();
    expect(checker.check({ method: 'GET', path, status: r.status, contentType: r.headers.get('content-type'), body })).toEqual([]);
    return { status: r.status, body, link: r.headers.get('link') };
  };
  return { core, get };
}

const nextOf = (link: string | null) => (link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? null : null);

describe('GET /api/v1/instances', () => {
  it('pages through every live instance once, oldest first, 100 by default, with a Link to the next page', async () => {
    const { get } = await setup();
    const pages: number[] = [];
    const ids: string[] = [];
    let path: string | null = '/api/v1/instances';
    while (path) {
      const r = await get(path);
      pages.push(r.body.length);
      ids.push(...r.body.map((i: any) => i.id));
      path = nextOf(r.link);
      if (path) expect(path).toMatch(/^\/api\/v1\/instances\?cursor=/);
    }
    expect(pages).toEqual([100, 100, 50]);
    expect(ids).toEqual(Array.from({ length: 250 }, (_, n) => row(n).id));
  });

  it('filters by template, owner and status (comma lists), keeping the filters across pages', async () => {
    const { get } = await setup();
    const all = (await get('/api/v1/instances?limit=1000')).body as any[];
    expect(all).toHaveLength(250);
    expect(all.every((i) => i.connection === null)).toBe(true);

    const shopFailed = (await get('/api/v1/instances?template=shop&status=failed&limit=1000')).body as any[];
    expect(shopFailed.map((i) => i.id)).toEqual(all.filter((i) => i.template === 'shop' && i.status === 'failed').map((i) => i.id));
    expect(shopFailed.length).toBeGreaterThan(0);

    const owners = (await get('/api/v1/instances?owner=api:user-3,api:user-7,pool:w1')).body as any[];
    expect(owners.map((i) => i.owner)).toEqual(['api:user-3', 'api:user-7']);

    const first = await get('/api/v1/instances?template=chinook,shop&status=ready,failed&limit=60');
    const second = await get(nextOf(first.link)!);
    expect(nextOf(first.link)).toMatch(/template=chinook%2Cshop&status=ready%2Cfailed&limit=60&cursor=/);
    expect([...first.body, ...second.body].map((i: any) => i.id)).toEqual(all.slice(0, 120).map((i) => i.id));
    expect((await get('/api/v1/instances?status=queued')).body).toEqual([]);
  });

  it('answers a bad query with 400 and says what is wrong', async () => {
    const { get } = await setup();
    for (const [q, why] of [
      ['limit=0', /limit/],
      ['limit=1001', /limit/],
      ['limit=ten', /limit/],
      ['status=destroyed', /destroyed.*live instances only/],
      ['status=ready,sleepy', /"sleepy"/],
      ['cursor=nonsense', /cursor/],
    ] as const) {
      const r = await get(`/api/v1/instances?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe('bad_request');
      expect(r.body.error.message).toMatch(why);
    }
  });

  it('cursors round-trip and refuse what they did not make', () => {
    const k = { createdAt: new Date('2026-01-01T00:00:00.123Z'), id: 'iabc' };
    expect(decodeCursor(encodeCursor(k))).toEqual(k);
    expect(() => decodeCursor(Buffer.from('["x",1]').toString('base64url'))).toThrow(/cursor/);
  });
});
