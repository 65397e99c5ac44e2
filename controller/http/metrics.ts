// GET /api/v1/metrics: the Prometheus text exposition. What is measured and how it is rendered
// (prom-client, host/metrics.ts) is wired in main.ts; this only serves it behind the API's auth.
import type { Context } from 'hono';

export interface MetricsExposition {
  contentType: string;
  body: string;
}

export function metricsHandler(expose: () => Promise<MetricsExposition>) {
  return async (c: Context) => {
    const { contentType, body } = await expose();
    return c.body(body, 200, { 'content-type': contentType, 'cache-control': 'no-store' });
  };
}
