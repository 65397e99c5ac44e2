// Found by the chaos campaign: a delivery was recorded as seen before it was acted on, so a controller
// killed in between acknowledged GitHub's redelivery as a duplicate and never acted on it (a closed
// pull request kept its databases). Now a delivery is recorded only once handled; a duplicate that
// arrives while the first is in hand is still not acted on twice.
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { DeliveryLog } from '../../controller/app/ports.js';
import type { PullRequestEvent, PullRequestHandler } from '../../controller/github/pull-requests.js';
import { createWebhookRoutes } from '../../controller/http/webhooks.js';
import { createMemoryLogger, pullRequestPayload, webhookRequest } from '../helpers/webhook-fixtures.js';

const SECRET = 'crash-secret';
const PATH = '/hooks';

/** The state DB's record of deliveries: it outlives the controller process. */
function persistedLog(): DeliveryLog {
  const handled = new Set<string>();
  return { seen: async (id) => handled.has(id), record: async (id) => void handled.add(id) };
}

function controller(deliveries: DeliveryLog, handle: (e: PullRequestEvent) => Promise<void>) {
  const pullRequests: PullRequestHandler = {
    async handle(e) {
      await handle(e);
      return { result: 'ignored', owner: null, reason: 'unknown_repo' };
    },
  };
  const app = new Hono().route(PATH, createWebhookRoutes({ secret: SECRET, deliveries, pullRequests, log: createMemoryLogger() }));
  return (delivery: string) => app.request(PATH, webhookRequest('pull_request', pullRequestPayload('closed'), { secret: SECRET, delivery }));
}

describe('a webhook delivery and a crash', () => {
  it('a delivery cut short by a crash is acted on when redelivered to the next controller', async () => {
    const deliveries = persistedLog();
    let reached!: () => void;
    const inHandler = new Promise<void>((r) => (reached = r));
    // The first controller is killed while handling: its handler never finishes.
    const first = controller(deliveries, () => {
      reached();
      return new Promise<void>(() => undefined);
    });
    void first('d-1');
    await inHandler;

    const acted: string[] = [];
    const second = controller(deliveries, async (e) => void acted.push(`${e.action} #${e.number}`));
    const res = await second('d-1');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(acted).toEqual(['closed #2']);
    // Handled now: another redelivery is a duplicate.
    expect(await (await second('d-1')).json()).toEqual({ ok: true, duplicate: true });
    expect(acted).toHaveLength(1);
  });

  it('a duplicate arriving while the first is in hand is acknowledged, not acted on twice', async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const acted: string[] = [];
    const send = controller(persistedLog(), async (e) => {
      acted.push(e.action);
      await slow;
    });
    const a = send('d-2');
    await new Promise((r) => setTimeout(r, 20));
    const b = await send('d-2');
    expect(await b.json()).toEqual({ ok: true, duplicate: true });
    release();
    expect((await a).status).toBe(200);
    expect(acted).toEqual(['closed']);
  });
});
