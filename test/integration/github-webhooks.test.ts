// Webhook route + pull request handler over an in-memory InstancePort, fed GitHub's own example
// payloads signed with the test secret.
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { DeliveryLog } from '../../controller/app/ports.js';
import { createWebhookRoutes } from '../../controller/http/webhooks.js';
import {
  createFakeInstancePort,
  createMemoryLogger,
  pingPayload,
  pullRequestPayload,
  signBody,
  webhookRequest, pullRequestHandlerFor } from '../helpers/webhook-fixtures.js';

const SECRET = 'test-webhook-secret';
const PATH = '/api/v1/webhooks/github';
const OWNER = 'gh:codertocat/hello-world#2';

function memoryDeliveries() {
  const handled = new Set<string>();
  const log: DeliveryLog & { handled: Set<string> } = {
    handled,
    async seen(id) {
      return handled.has(id);
    },
    async record(id) {
      handled.add(id);
    },
  };
  return log;
}

function setup(o: { allowForks?: boolean; resetOnPush?: boolean; secret?: string | null } = {}) {
  const instances = createFakeInstancePort();
  const log = createMemoryLogger();
  const deliveries = memoryDeliveries();
  const pullRequests = pullRequestHandlerFor({
    instances,
    repos: { 'codertocat/hello-world': ['chinook', 'sakila'] },
    allowForks: o.allowForks ?? false,
    resetOnPush: o.resetOnPush ?? false,
    log,
  });
  const app = new Hono();
  app.route(PATH, createWebhookRoutes({ secret: o.secret === undefined ? SECRET : o.secret, deliveries, pullRequests, log }));
  const send = (event: string, payload: unknown, r: { secret?: string | null; delivery?: string } = {}) =>
    app.request(PATH, webhookRequest(event, payload, { secret: r.secret === undefined ? SECRET : r.secret, delivery: r.delivery }));
  return { app, instances, log, deliveries, send };
}

describe('GitHub webhooks', () => {
  it('opened creates one instance per configured template; closed destroys them', async () => {
    const { instances, send } = setup();
    const res = await send('pull_request', pullRequestPayload('opened'));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(instances.live(OWNER).map((v) => v.template).sort()).toEqual(['chinook', 'sakila']);

    const closed = await send('pull_request', pullRequestPayload('closed', { merged: true }));
    expect(closed.status).toBe(200);
    expect(instances.live(OWNER)).toEqual([]);
    expect(instances.calls.at(-1)).toEqual({ op: 'destroyOwner', owner: OWNER });
  });

  it('a closed-without-merge pull request is destroyed too, and reopened brings it back', async () => {
    const { instances, send } = setup();
    await send('pull_request', pullRequestPayload('opened', { updatedAt: '2024-01-01T10:00:00Z' }));
    await send('pull_request', pullRequestPayload('closed', { merged: false, updatedAt: '2024-01-01T11:00:00Z' }));
    expect(instances.live(OWNER)).toEqual([]);
    await send('pull_request', pullRequestPayload('reopened', { updatedAt: '2024-01-01T12:00:00Z' }));
    expect(instances.live(OWNER)).toHaveLength(2);
  });

  it('uses the owner key gh:<owner>/<repo>#<number>, lowercased', async () => {
    const { instances, send } = setup();
    await send('pull_request', pullRequestPayload('opened', { repo: 'CoderTocat/Hello-World', number: 41 }));
    expect(instances.live().map((v) => v.owner)).toEqual(['gh:codertocat/hello-world#41', 'gh:codertocat/hello-world#41']);
  });

  it('synchronize keeps the instances (bringing back any that expired), or resets them when configured', async () => {
    const plain = setup();
    await plain.send('pull_request', pullRequestPayload('opened'));
    const before = plain.instances.live(OWNER).map((i) => i.id);
    await plain.send('pull_request', pullRequestPayload('synchronize'));
    // Get-or-create again: the same instances, none new, none reset.
    expect(plain.instances.calls.map((c) => c.op)).toEqual(['ensure', 'ensure', 'ensure', 'ensure']);
    expect(plain.instances.live(OWNER).map((i) => i.id)).toEqual(before);
    expect(plain.instances.refreshed).toEqual([OWNER, OWNER]);

    const resetting = setup({ resetOnPush: true });
    await resetting.send('pull_request', pullRequestPayload('opened'));
    await resetting.send('pull_request', pullRequestPayload('synchronize'));
    expect(resetting.instances.calls.map((c) => c.op)).toEqual(['ensure', 'ensure', 'resetOwner', 'ensure', 'ensure']);
  });

  it('refuses a wrong or missing signature with 401 and does nothing', async () => {
    const { instances, send } = setup();
    for (const secret of ['not-the-secret', null]) {
      const res = await send('pull_request', pullRequestPayload('opened'), { secret });
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('unauthorized');
      expect(body.error.message).toMatch(/X-Hub-Signature-256/);
    }
    expect(instances.calls).toEqual([]);
  });

  it('verifies the raw bytes GitHub sent, not a re-serialisation of them', async () => {
    const { app, instances } = setup();
    const body = JSON.stringify(pullRequestPayload('opened', { number: 7 }), null, 2).replace('"title"', '"title" ') + '\n';
    const headers = { 'content-type': 'application/json', 'x-github-event': 'pull_request', 'x-github-delivery': 'raw-1' };
    const ok = await app.request(PATH, { method: 'POST', body, headers: { ...headers, 'x-hub-signature-256': signBody(SECRET, body) } });
    expect(ok.status).toBe(200);
    expect(instances.live('gh:codertocat/hello-world#7')).toHaveLength(2);
    const tampered = body.replace('"number": 7', '"number": 8');
    const bad = await app.request(PATH, { method: 'POST', body: tampered, headers: { ...headers, 'x-github-delivery': 'raw-2', 'x-hub-signature-256': signBody(SECRET, body) } });
    expect(bad.status).toBe(401);
  });

  it('answers 400 without X-GitHub-Delivery or X-GitHub-Event', async () => {
    const { app, instances } = setup();
    const body = JSON.stringify(pullRequestPayload('opened'));
    for (const drop of ['x-github-delivery', 'x-github-event']) {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-github-event': 'pull_request',
        'x-github-delivery': 'd-1',
        'x-hub-signature-256': signBody(SECRET, body),
      };
      delete headers[drop];
      const res = await app.request(PATH, { method: 'POST', body, headers });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('bad_request');
    }
    expect(instances.calls).toEqual([]);
  });

  it('acknowledges a redelivery without acting on it again', async () => {
    const { instances, send } = setup();
    await send('pull_request', pullRequestPayload('opened'), { delivery: 'same-id' });
    await send('pull_request', pullRequestPayload('closed'), { delivery: 'closed-id' });
    const again = await send('pull_request', pullRequestPayload('opened'), { delivery: 'same-id' });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ ok: true, duplicate: true });
    expect(instances.calls.filter((c) => c.op === 'ensure')).toHaveLength(2);
    expect(instances.live(OWNER)).toEqual([]);
  });

  it('ignores pull requests from forks unless forks are allowed', async () => {
    const strict = setup();
    expect((await strict.send('pull_request', pullRequestPayload('opened', { fork: true }))).status).toBe(200);
    expect((await strict.send('pull_request', pullRequestPayload('opened', { fork: 'deleted', number: 3 }))).status).toBe(200);
    expect(strict.instances.calls.filter((c) => c.op === 'ensure')).toEqual([]);

    const open = setup({ allowForks: true });
    await open.send('pull_request', pullRequestPayload('opened', { fork: true }));
    expect(open.instances.live(OWNER)).toHaveLength(2);
  });

  it('acknowledges and ignores repositories it is not configured for', async () => {
    const { instances, send, log } = setup();
    const res = await send('pull_request', pullRequestPayload('opened', { repo: 'someone/else' }));
    expect(res.status).toBe(200);
    expect(instances.calls).toEqual([]);
    expect(log.lines.some((l) => l.level === 'debug' && /unconfigured repository/.test(String(l.msg ?? l.obj)))).toBe(true);
  });

  it('a close that arrives while the create is still running still wins', async () => {
    const { instances, send } = setup();
    const release = instances.holdEnsures();
    const opened = send('pull_request', pullRequestPayload('opened'));
    const closed = send('pull_request', pullRequestPayload('closed'));
    release();
    const [a, b] = await Promise.all([opened, closed]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(instances.calls.map((c) => c.op)).toEqual(['ensure', 'ensure', 'destroyOwner']);
    expect(instances.live()).toEqual([]);
  });

  it('an opened delivered after a newer closed does not bring the instance back', async () => {
    const { instances, send } = setup();
    await send('pull_request', pullRequestPayload('closed', { updatedAt: '2024-01-01T11:00:00Z' }));
    await send('pull_request', pullRequestPayload('opened', { updatedAt: '2024-01-01T10:00:00Z' }));
    expect(instances.live()).toEqual([]);
  });

  it('two opens at once make one instance per template', async () => {
    const { instances, send } = setup();
    await Promise.all([send('pull_request', pullRequestPayload('opened')), send('pull_request', pullRequestPayload('opened'))]);
    expect(instances.live(OWNER)).toHaveLength(2);
  });

  it('answers ping and acknowledges other events and actions without acting', async () => {
    const { instances, send } = setup();
    expect(await (await send('ping', pingPayload())).json()).toEqual({ ok: true, pong: true });
    expect((await send('issues', { action: 'opened' })).status).toBe(202);
    expect((await send('pull_request', pullRequestPayload('labeled'))).status).toBe(200);
    expect(instances.calls).toEqual([]);
  });

  it('answers 503 with a clear error when no secret is configured', async () => {
    const { send } = setup({ secret: null });
    const res = await send('pull_request', pullRequestPayload('opened'));
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/MYAAS_GITHUB_WEBHOOK_SECRET/);
  });

  it('reports a failed create, still tries the other templates, and lets the delivery be retried', async () => {
    const { instances, send, deliveries } = setup();
    instances.failTemplate('chinook');
    const res = await send('pull_request', pullRequestPayload('opened'), { delivery: 'fails-once' });
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/chinook/);
    expect(instances.live(OWNER).map((v) => v.template)).toEqual(['sakila']);
    expect(deliveries.handled.has('fails-once')).toBe(false);
    instances.failTemplate(null);
    expect((await send('pull_request', pullRequestPayload('opened'), { delivery: 'fails-once' })).status).toBe(200);
    expect(instances.live(OWNER)).toHaveLength(2);
  });

  it('answers 400 for a signed body that is not JSON', async () => {
    const { app } = setup();
    const body = 'payload=%7B%7D';
    const res = await app.request(PATH, {
      method: 'POST',
      body,
      headers: { 'x-github-event': 'pull_request', 'x-github-delivery': 'form', 'x-hub-signature-256': signBody(SECRET, body) },
    });
    expect(res.status).toBe(400);
  });
});
