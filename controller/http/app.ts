// The HTTP surface: health, the v1 API behind auth, GitHub webhooks (their own signature check).
import { Hono, type MiddlewareHandler } from 'hono';
import type { HealthDto } from '../contract.js';
import { AppError } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import { createApi, type ApiDeps } from './api.js';
import type { AuthEnv } from './auth.js';
import { errorHandler, notFound } from './errors.js';
import { metricsHandler, type MetricsExposition } from './metrics.js';

export interface AppDeps {
  api: ApiDeps;
  auth: MiddlewareHandler<AuthEnv>;
  webhooks: Hono | null;
  health: () => Promise<HealthDto>;
  metrics: () => Promise<MetricsExposition>;
  /** the admin status page at / (http/status-page.tsx) */
  statusPage?: Hono | null;
  log: Logger;
}

export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.onError(errorHandler(deps.log));
  app.notFound(notFound);
  const health = async () => {
    const h = await deps.health();
    return new Response(JSON.stringify(h), { status: h.ok ? 200 : 503, headers: { 'content-type': 'application/json' } });
  };
  app.get('/healthz', health);
  app.get('/api/v1/healthz', health);
  if (deps.webhooks) app.route('/api/v1/webhooks/github', deps.webhooks);
  if (deps.statusPage) app.route('/', deps.statusPage);
  const v1 = new Hono<AuthEnv>();
  v1.use('*', deps.auth);
  v1.use('/metrics', async (c, next) => {
    const kind = c.get('principal').kind;
    if (kind !== 'admin' && kind !== 'metrics') throw new AppError('forbidden', 'metrics need an admin token or a metrics token (MYAAS_METRICS_TOKENS)');
    await next();
  });
  v1.get('/metrics', metricsHandler(deps.metrics));
  v1.route('/', createApi(deps.api));
  app.route('/api/v1', v1);
  return app;
}
