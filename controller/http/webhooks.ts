// POST / (mounted at /api/v1/webhooks/github): GitHub webhooks, verified over the raw body and
// deduplicated by delivery id. Only records intent (ensure/destroy return at once), so it answers fast.
import { Webhooks } from '@octokit/webhooks';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isAppError, messageOf } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import type { ChatOps } from '../github/chatops-handler.js';
import { registerChatOps } from '../github/chatops-webhooks.js';
import type { WebhookOutcome } from '../domain/telemetry.js';
import type { DeliveryLog, Telemetry } from '../app/ports.js';
import { fromWebhookPayload, type PullRequestHandler } from '../github/pull-requests.js';

export interface WebhookRoutesDeps {
  /** MYAAS_GITHUB_WEBHOOK_SECRET; null answers 503 so a misconfiguration is visible in GitHub's delivery log */
  secret: string | null;
  deliveries: DeliveryLog;
  pullRequests: PullRequestHandler;
  /** `/myaas …` comments and the `myaas:reset` label; absent: those events are acknowledged and ignored */
  chatOps?: ChatOps;
  log: Logger;
  /** counts deliveries by event and outcome (metrics) */
  telemetry?: Pick<Telemetry, 'webhook'>;
}

// GitHub caps webhook payloads at 25 MB.
const MAX_BODY = 25 * 1024 * 1024;

const fail = (c: Context, status: ContentfulStatusCode, code: string, message: string) =>
  c.json({ error: { code, message } }, status);

// Event names as metric labels: the ones a GitHub App for myaas receives, anything else is `other`
// (the event header is not covered by the signature, so its values must not be unbounded).
const KNOWN_EVENTS = new Set(['pull_request', 'issue_comment', 'ping', 'push', 'installation', 'installation_repositories']);
const eventLabel = (name: string | undefined) => (name && KNOWN_EVENTS.has(name) ? name : 'other');

export function createWebhookRoutes(deps: WebhookRoutesDeps): Hono {
  const log = deps.log.child({ component: 'webhooks' });
  const app = new Hono();
  const report = (event: string, outcome: WebhookOutcome) => deps.telemetry?.webhook({ event, outcome });
  const inHand = new Set<string>();
  const webhooks = deps.secret
    ? new Webhooks({
        secret: deps.secret,
        log: {
          debug: (m: string) => log.debug(String(m)),
          info: (m: string) => log.info(String(m)),
          warn: (m: string) => log.warn(String(m)),
          error: (m: string) => log.error(String(m)),
        },
      })
    : null;
  // Handlers run inside receive(); their errors come back as its rejection.
  webhooks?.on('pull_request', async ({ payload }) => {
    await deps.pullRequests.handle(fromWebhookPayload(payload));
  });
  if (webhooks && deps.chatOps) registerChatOps(webhooks, deps.chatOps);

  app.post(
    '/',
    bodyLimit({
      maxSize: MAX_BODY,
      onError: (c) => {
        report('unverified', 'invalid');
        return fail(c, 413, 'bad_request', `webhook body larger than ${MAX_BODY} bytes`);
      },
    }),
    async (c) => {
      if (!webhooks) {
        report('unverified', 'not_configured');
        return fail(c, 503, 'not_configured', 'GitHub webhooks are not configured: set MYAAS_GITHUB_WEBHOOK_SECRET on the controller');
      }
      // The signature covers the exact bytes GitHub sent, so verify the raw text before parsing it.
      const body = await c.req.text();
      const signature = c.req.header('x-hub-signature-256');
      if (!signature) {
        report('unverified', 'rejected');
        return fail(c, 401, 'unauthorized', 'missing X-Hub-Signature-256: set the webhook secret in the GitHub webhook settings');
      }
      const valid = await webhooks.verify(body, signature).catch(() => false);
      if (!valid) {
        report('unverified', 'rejected');
        return fail(c, 401, 'unauthorized', 'X-Hub-Signature-256 does not match: the webhook secret differs from MYAAS_GITHUB_WEBHOOK_SECRET');
      }
      const id = c.req.header('x-github-delivery');
      const name = c.req.header('x-github-event');
      const event = eventLabel(name);
      if (!id || !name) {
        report(event, 'invalid');
        return fail(c, 400, 'bad_request', 'missing X-GitHub-Delivery or X-GitHub-Event header');
      }
      let payload: unknown;
      try {
        payload = JSON.parse(body);
      } catch {
        report(event, 'invalid');
        return fail(c, 400, 'bad_request', 'webhook body is not JSON (set the content type to application/json)');
      }
      const dlog = log.child({ delivery: id, event: name });
      if (inHand.has(id) || (await deps.deliveries.seen(id))) {
        dlog.info('redelivered webhook acknowledged, not acted on again');
        report(event, 'duplicate');
        return c.json({ ok: true, duplicate: true }, 200);
      }
      if (name === 'ping') {
        report(event, 'ping');
        return c.json({ ok: true, pong: true }, 200);
      }
      // Recorded only once handled: a delivery cut short by a crash is acted on when redelivered (the
      // handlers are idempotent: ensure, destroy); a duplicate arriving while it is in hand is not.
      inHand.add(id);
      try {
        await webhooks.receive({ id, name, payload } as Parameters<Webhooks['receive']>[0]);
        await deps.deliveries.record(id);
      } catch (e) {
        const inner = e instanceof AggregateError && e.errors.length === 1 ? e.errors[0] : e;
        dlog.error({ err: messageOf(inner) }, 'webhook handling failed');
        report(event, 'failed');
        const status = (isAppError(inner) ? inner.status : 500) as ContentfulStatusCode;
        return fail(c, status, isAppError(inner) ? inner.code : 'internal', messageOf(inner));
      } finally {
        inHand.delete(id);
      }
      dlog.debug('webhook handled');
      report(event, 'handled');
      return c.json({ ok: true }, name === 'pull_request' ? 200 : 202);
    },
  );
  return app;
}
