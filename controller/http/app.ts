// The HTTP surface: health, the v1 API behind auth, GitHub webhooks (their own signature check), and
// the OpenAPI document of all of it (openapi.ts, from the routes of routes.ts).
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Hono, MiddlewareHandler } from 'hono';
import type { BlankEnv } from 'hono/types';
import type { HealthDto } from '../contract.js';
import { AppError } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import { createApi, type ApiDeps } from './api.js';
import type { AuthEnv } from './auth.js';
import { errorHandler, notFound } from './errors.js';
import { metricsHandler, type MetricsExposition } from './metrics.js';
import { describeOnly, rethrowInvalid, serveDocument } from './openapi.js';
import * as routes from './routes.js';

export interface AppDeps {
  api: ApiDeps;
  auth: MiddlewareHandler<AuthEnv>;
  webhooks: Hono | null;
  health: () => Promise<HealthDto>;
  metrics: () => Promise<MetricsExposition>;
  /** the admin status page at / (http/status-page.tsx) */
  statusPage?: Hono | null;
  log: Logger;
  /** the controller's version, named in the OpenAPI document */
  version?: string;
}

export function createApp(deps: AppDeps): OpenAPIHono<BlankEnv> {
  const app = new OpenAPIHono<BlankEnv>({ defaultHook: rethrowInvalid });
  app.onError(errorHandler(deps.log));
  app.notFound(notFound);
  const health = async () => {
    const h = await deps.health();
    return new Response(JSON.stringify(h), { status: h.ok ? 200 : 503, headers: { 'content-type': 'application/json' } });
  };
  app.get('/healthz', health);
  app.get('/api/v1/healthz', health);
  describeOnly(app, routes.healthz);
  describeOnly(app, routes.healthzV1);
  serveDocument(app, deps.version ?? '0.1.0');
  if (deps.webhooks) {
    app.route('/api/v1/webhooks/github', deps.webhooks);
    describeOnly(app, routes.githubWebhook);
  }
  if (deps.statusPage) app.route('/', deps.statusPage);
  const v1 = new OpenAPIHono<AuthEnv>({ defaultHook: rethrowInvalid });
  v1.use('*', deps.auth);
  v1.use('/metrics', async (c, next) => {
    const kind = c.get('principal').kind;
    if (kind !== 'admin' && kind !== 'metrics') throw new AppError('forbidden', 'metrics need an admin token or a metrics token (MYAAS_METRICS_TOKENS)');
    await next();
  });
  v1.get('/metrics', metricsHandler(deps.metrics));
  describeOnly(app, routes.metrics);
  v1.route('/', createApi(deps.api));
  app.route('/api/v1', v1);
  return app;
}
