// What a standby controller serves (docs/many-hosts.md): its health, saying it is the standby and
// which controller is active, and its metrics (myaas_leader 0); every other request gets 503 with
// Retry-After and where the active controller is. It touches neither the data dir nor the state.
import { Hono } from 'hono';
import type { ActiveControllerDto, ErrorDto, HealthDto } from '../contract.js';
import type { Logger } from '../domain/logger.js';
import { adminTokenCheck } from './auth.js';
import { errorHandler } from './errors.js';
import { metricsHandler, type MetricsExposition } from './metrics.js';

export interface StandbyDeps {
  /** this controller: `standby` until it wins the lock, `starting` while it builds the controller */
  role: () => 'standby' | 'starting';
  /** the controller holding the leader lock (null while none does) */
  active: () => Promise<ActiveControllerDto | null>;
  /** the rest of the health reply (Docker, the configured storage) */
  health: () => Promise<Omit<HealthDto, 'role' | 'active'>>;
  metrics: () => Promise<MetricsExposition>;
  /** tokens that may read the metrics: MYAAS_API_TOKENS and MYAAS_METRICS_TOKENS */
  metricsTokens: string[];
  retryAfterSeconds: number;
  log: Logger;
}

export function createStandbyApp(deps: StandbyDeps): Hono {
  const app = new Hono();
  app.onError(errorHandler(deps.log));
  const active = () => deps.active().catch(() => null);
  const health = async () => {
    const [h, a] = await Promise.all([deps.health(), active()]);
    const body: HealthDto = { ...h, role: deps.role(), active: a };
    return new Response(JSON.stringify(body), { status: h.ok ? 200 : 503, headers: { 'content-type': 'application/json' } });
  };
  app.get('/healthz', health);
  app.get('/api/v1/healthz', health);
  const isMetricsToken = adminTokenCheck(deps.metricsTokens);
  const metrics = metricsHandler(deps.metrics);
  app.get('/api/v1/metrics', async (c, next) => {
    const m = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '');
    if (m && isMetricsToken(m[1])) return metrics(c);
    await next(); // anything else: the standby's 503 below
  });
  app.all('*', async (c) => {
    const a = await active();
    const starting = deps.role() === 'starting';
    const where = a ? `the active controller is process ${a.pid} on ${a.host} at ${a.url}: send requests there` : 'no controller is active right now';
    const body: ErrorDto = {
      error: {
        code: 'standby',
        message: starting
          ? `this controller has just taken the leader lock and is starting: retry in ${deps.retryAfterSeconds} s`
          : `this controller is a standby (another one holds the leader lock); ${where}, or retry in ${deps.retryAfterSeconds} s`,
      },
    };
    const headers: Record<string, string> = { 'retry-after': String(deps.retryAfterSeconds), 'cache-control': 'no-store' };
    if (a && !starting) headers['myaas-active-url'] = a.url;
    return c.json(body, 503, headers);
  });
  return app;
}
