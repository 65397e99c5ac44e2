// Controllers sharing a state DB: a standby answers 503 (code standby) with `myaas-active-url`; the
// CLI and the Action ask the active controller instead, and a standby that names none yet is waited for.
import { describe, expect, it } from 'vitest';
import { createControllerClient } from '../../action/client.js';
import { createCliClient } from '../../controller/cli-client.js';

type Route = (url: string) => Response;
const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const standby = (active?: string) =>
  json(503, { error: { code: 'standby', message: 'this controller is a standby' } }, { 'retry-after': '2', ...(active ? { 'myaas-active-url': active } : {}) });
const instance = { id: 'i1', name: 'n', owner: 'api:x', ownerKind: 'api', template: 'chinook', templateVersion: 'v1', status: 'ready', expiresAt: null, createdAt: '2026-01-01T00:00:00Z', readyAt: null, connection: null, created: true };

function fakeFetch(route: Route) {
  const asked: string[] = [];
  const f = (async (input: string | URL | Request) => {
    const url = String(input);
    asked.push(url);
    return route(url);
  }) as typeof fetch;
  return { f, asked };
}

describe('following the active controller', () => {
  it('the CLI asks the active controller a standby names, with the same path and token', async () => {
    const { f, asked } = fakeFetch((url) => (url.startsWith('http://b:5001') ? standby('http://a:5001/') : json(200, [instance])));
    const cli = createCliClient('http://b:5001', 'tok', f);
    expect((await cli.list()).map((i) => i.id)).toEqual(['i1']);
    expect(asked).toEqual(['http://b:5001/api/v1/instances?limit=1000', 'http://a:5001/api/v1/instances?limit=1000']);
    // Later calls go to the active one directly.
    await cli.list();
    expect(asked.at(-1)).toBe('http://a:5001/api/v1/instances?limit=1000');
  });

  it('the CLI waits for a standby taking over, then reports one that names no active controller for 30 s, and does not follow a non-http URL', async () => {
    let n = 0;
    const slept: number[] = [];
    const starting = createCliClient('http://b:5001', 'tok', fakeFetch(() => (n++ < 2 ? standby() : json(200, [instance]))).f, async (ms) => void slept.push(ms));
    expect((await starting.list()).map((i) => i.id)).toEqual(['i1']);
    expect(slept).toEqual([2000, 2000]); // as Retry-After says
    slept.length = 0;
    const none = createCliClient('http://b:5001', 'tok', fakeFetch(() => standby()).f, async (ms) => void slept.push(ms));
    await expect(none.list()).rejects.toThrow(/standby/);
    expect(slept.reduce((a, b) => a + b, 0)).toBe(30_000);
    const odd = createCliClient('http://b:5001', 'tok', fakeFetch(() => standby('file:///etc/passwd')).f, async () => undefined);
    await expect(odd.list()).rejects.toThrow(/standby/);
  });

  it('the Action follows a standby to the active controller, and waits for a standby taking over', async () => {
    const { f, asked } = fakeFetch((url) => (url.startsWith('http://b:5001') ? standby('http://a:5001') : json(201, instance)));
    const slept: number[] = [];
    const client = createControllerClient({ baseUrl: 'http://b:5001', token: 't', auth: 'token', fetch: f, sleep: async (ms) => void slept.push(ms) });
    expect((await client.create({ template: 'chinook' }, 60)).id).toBe('i1');
    expect(asked).toEqual(['http://b:5001/api/v1/instances?wait=60', 'http://a:5001/api/v1/instances?wait=60']);
    expect(slept).toEqual([]);

    let n = 0;
    const starting = fakeFetch(() => (n++ === 0 ? standby() : json(201, instance)));
    const c2 = createControllerClient({ baseUrl: 'http://b:5001', token: 't', auth: 'token', fetch: starting.f, sleep: async (ms) => void slept.push(ms) });
    expect((await c2.create({ template: 'chinook' }, 60)).id).toBe('i1');
    expect(slept).toEqual([2000]); // Retry-After beats the first pause (1 s)
  });

  it('the Action stops after a few standbys naming each other', async () => {
    const { f, asked } = fakeFetch((url) => standby(url.startsWith('http://a') ? 'http://b:5001' : 'http://a:5001'));
    const client = createControllerClient({ baseUrl: 'http://b:5001', token: 't', auth: 'token', fetch: f, sleep: async () => undefined });
    await expect(client.create({ template: 'chinook' }, 60)).rejects.toThrow(/standby/);
    expect(asked.length).toBeLessThan(10);
  });
});
