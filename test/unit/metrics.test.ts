// The metrics: the exposition of the prom-client adapter (names, types, label sets, values), and
// that the core, the webhook route and the GitHub client report what the adapter counts.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parser as promql } from '@prometheus-io/lezer-promql';
import { Hono } from 'hono';
import { register as globalRegistry, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { Telemetry } from '../../controller/app/ports.js';
import { apiOwner } from '../../controller/domain/owner.js';
import type { MetricsReadings } from '../../controller/domain/telemetry.js';
import { createGitHubClient } from '../../controller/github/client.js';
import { createPromMetrics } from '../../controller/host/metrics.js';
import { createWebhookRoutes } from '../../controller/http/webhooks.js';
import { systemClock } from '../../controller/lib/clock.js';
import { buildCore } from '../helpers/fakes/core.js';
import { parsePromText, sampleValue } from '../helpers/prom-text.js';
import { createFakeInstancePort, createMemoryLogger, pingPayload, pullRequestPayload, webhookRequest, pullRequestHandlerFor } from '../helpers/webhook-fixtures.js';

const readings = (over: Partial<MetricsReadings> = {}): MetricsReadings => ({
  pool: { totalBytes: 20 * 2 ** 30, usedBytes: 3 * 2 ** 30, freeBytes: 17 * 2 ** 30 },
  instances: [
    { template: 'chinook', status: 'ready', count: 2 },
    { template: 'chinook', status: 'failed', count: 1 },
  ],
  warmPool: [{ template: 'chinook', status: 'ready', count: 3 }],
  versions: [{ template: 'chinook', status: 'ready', count: 1 }],
  ...over,
});

function adapter(read: () => Promise<MetricsReadings> = async () => readings()) {
  let reads = 0;
  const m = createPromMetrics({
    registry: new Registry(),
    warmPoolTarget: 3,
    poolPath: '/var/lib/myaas',
    processMetrics: false,
    readings: () => {
      reads++;
      return read();
    },
  });
  const scrape = async () => {
    const { contentType, body } = await m.expose();
    return { contentType, body, families: parsePromText(body) };
  };
  return { m, scrape, reads: () => reads };
}

describe('metrics exposition', () => {
  it('names, types and label sets of every series an operator needs', async () => {
    const { m, scrape } = adapter();
    m.provisioned({ cloneMs: 40, startMs: 300, rotateMs: 50, probeMs: 20, totalMs: 410 }, { template: 'chinook', engine: 'postgres' });
    m.imported({ template: 'chinook', engine: 'postgres', outcome: 'ready', durationMs: 42_000 });
    m.imported({ template: 'chinook-my', engine: 'mariadb', outcome: 'failed', durationMs: 3_000 });
    m.reconciled({ outcome: 'ok', durationMs: 12 });
    m.reconciled({ outcome: 'error', durationMs: 7 });
    m.swept({ durationMs: 250 });
    m.webhook({ event: 'pull_request', outcome: 'handled' });
    m.webhook({ event: 'pull_request', outcome: 'handled' });
    m.webhook({ event: 'unverified', outcome: 'rejected' });
    m.githubError({ operation: 'create comment', status: 502 });
    m.githubError({ operation: 'list open pulls', status: null });

    const { contentType, families: f } = await scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const types = Object.fromEntries([...f.values()].map((x) => [x.name, x.type]));
    expect(types).toEqual({
      myaas_metrics_read_errors_total: 'counter',
      myaas_pool_size_bytes: 'gauge',
      myaas_pool_used_bytes: 'gauge',
      myaas_pool_free_bytes: 'gauge',
      myaas_pool_reserve_bytes: 'gauge',
      myaas_instance_disk_limit_bytes: 'gauge',
      myaas_instances: 'gauge',
      myaas_warm_pool_instances: 'gauge',
      myaas_template_versions: 'gauge',
      myaas_warm_pool_target: 'gauge',
      myaas_clone_to_ready_seconds: 'histogram',
      myaas_provision_step_seconds: 'histogram',
      myaas_import_duration_seconds: 'histogram',
      myaas_reconcile_pass_seconds: 'histogram',
      myaas_reconcile_sweep_seconds: 'histogram',
      myaas_webhook_deliveries_total: 'counter',
      myaas_github_api_errors_total: 'counter',
    });
    for (const fam of f.values()) expect(fam.help.length, fam.name).toBeGreaterThan(10);

    expect(sampleValue(f, 'myaas_pool_used_bytes', { path: '/var/lib/myaas' })).toBe(3 * 2 ** 30);
    expect(sampleValue(f, 'myaas_pool_free_bytes', { path: '/var/lib/myaas' })).toBe(17 * 2 ** 30);
    expect(sampleValue(f, 'myaas_pool_size_bytes', { path: '/var/lib/myaas' })).toBe(20 * 2 ** 30);
    expect(sampleValue(f, 'myaas_instances', { template: 'chinook', status: 'ready' })).toBe(2);
    expect(sampleValue(f, 'myaas_instances', { template: 'chinook', status: 'failed' })).toBe(1);
    expect(sampleValue(f, 'myaas_warm_pool_instances', { template: 'chinook', status: 'ready' })).toBe(3);
    expect(sampleValue(f, 'myaas_warm_pool_target')).toBe(3);

    const ready = f.get('myaas_clone_to_ready_seconds')!;
    expect(new Set(ready.samples.map((s) => Object.keys(s.labels).sort().join(',')))).toEqual(new Set(['engine,le,template', 'engine,template']));
    expect(sampleValue(f, 'myaas_clone_to_ready_seconds_count', { template: 'chinook', engine: 'postgres' })).toBe(1);
    expect(sampleValue(f, 'myaas_clone_to_ready_seconds_sum', { template: 'chinook', engine: 'postgres' })).toBeCloseTo(0.41);
    expect(sampleValue(f, 'myaas_clone_to_ready_seconds_bucket', { le: '0.25' })).toBe(0);
    expect(sampleValue(f, 'myaas_clone_to_ready_seconds_bucket', { le: '0.5' })).toBe(1);
    expect(sampleValue(f, 'myaas_clone_to_ready_seconds_bucket', { le: '+Inf' })).toBe(1);
    for (const step of ['clone', 'start', 'rotate', 'probe']) {
      expect(sampleValue(f, 'myaas_provision_step_seconds_count', { engine: 'postgres', step }), step).toBe(1);
    }
    expect(sampleValue(f, 'myaas_import_duration_seconds_count', { template: 'chinook', engine: 'postgres', outcome: 'ready' })).toBe(1);
    expect(sampleValue(f, 'myaas_import_duration_seconds_sum', { template: 'chinook', outcome: 'ready' })).toBe(42);
    expect(sampleValue(f, 'myaas_import_duration_seconds_count', { template: 'chinook-my', engine: 'mariadb', outcome: 'failed' })).toBe(1);
    expect(sampleValue(f, 'myaas_reconcile_pass_seconds_count', { outcome: 'ok' })).toBe(1);
    expect(sampleValue(f, 'myaas_reconcile_pass_seconds_count', { outcome: 'error' })).toBe(1);
    expect(sampleValue(f, 'myaas_reconcile_sweep_seconds_count')).toBe(1);
    expect(sampleValue(f, 'myaas_webhook_deliveries_total', { event: 'pull_request', outcome: 'handled' })).toBe(2);
    expect(sampleValue(f, 'myaas_webhook_deliveries_total', { event: 'unverified', outcome: 'rejected' })).toBe(1);
    expect(sampleValue(f, 'myaas_github_api_errors_total', { operation: 'create_comment', status: '502' })).toBe(1);
    expect(sampleValue(f, 'myaas_github_api_errors_total', { operation: 'list_open_pulls', status: 'none' })).toBe(1);
  });

  it('reads the state once per scrape, and drops label sets that are gone', async () => {
    let current = readings();
    const { scrape, reads } = adapter(async () => current);
    await scrape();
    expect(reads()).toBe(1);
    current = readings({ instances: [{ template: 'sakila', status: 'provisioning', count: 1 }], pool: null });
    const { families: f } = await scrape();
    expect(reads()).toBe(2);
    expect(f.get('myaas_instances')!.samples.map((s) => s.labels)).toEqual([{ template: 'sakila', status: 'provisioning' }]);
    expect(f.get('myaas_pool_used_bytes')!.samples).toEqual([]);
  });

  it('a failed reading leaves its gauges out and is counted; the rest is still served', async () => {
    const { m, scrape } = adapter(async () => {
      throw new Error('state DB away');
    });
    m.swept({ durationMs: 10 });
    const { families: f } = await scrape();
    expect(sampleValue(f, 'myaas_metrics_read_errors_total')).toBe(1);
    expect(f.get('myaas_instances')!.samples).toEqual([]);
    expect(sampleValue(f, 'myaas_reconcile_sweep_seconds_count')).toBe(1);
  });

  it('process metrics go to the given registry, never to prom-client\'s global one', async () => {
    const registry = new Registry();
    createPromMetrics({ registry, warmPoolTarget: 0, poolPath: '/data', readings: async () => readings() });
    const f = parsePromText(await registry.metrics());
    expect(f.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(f.get('nodejs_heap_size_used_bytes')?.type).toBe('gauge');
    expect(globalRegistry.getMetricsAsArray()).toEqual([]);
  });
});

/** A Telemetry that records what it is told. */
function recorder() {
  const seen: Array<[keyof Telemetry, unknown]> = [];
  const t: Telemetry = {
    provisioned: (timings, about) => void seen.push(['provisioned', { ...about, timings }]),
    imported: (r) => void seen.push(['imported', r]),
    reconciled: (r) => void seen.push(['reconciled', r]),
    swept: (r) => void seen.push(['swept', r]),
    webhook: (r) => void seen.push(['webhook', r]),
    githubError: (r) => void seen.push(['githubError', r]),
  };
  return { t, seen, of: (k: keyof Telemetry) => seen.filter((s) => s[0] === k).map((s) => s[1]) };
}

describe('what is reported to Telemetry', () => {
  it('the core: a provisioned instance with its template and engine, its reconcile passes, a sweep, an import', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner: apiOwner('alice'), template: 'chinook' });
    await core.settle();
    expect((await core.instances.get(instance.id)).status).toBe('ready');
    const kinds = core.reports.map((r) => r.kind);
    expect(core.reports.filter((r) => r.kind === 'provisioned')).toEqual([
      { kind: 'provisioned', report: { template: 'chinook', engine: 'postgres', timings: core.timings[0] } },
    ]);
    expect(core.reports.find((r) => r.kind === 'reconciled')?.report).toMatchObject({ outcome: 'ok' });
    expect(kinds.indexOf('provisioned')).toBeLessThan(kinds.lastIndexOf('reconciled'));

    await core.reaper.run();
    expect(core.reports.filter((r) => r.kind === 'swept')).toHaveLength(1);

    core.world.dumps.put({ template: 'shop', engine: 'postgres', format: 'sql', file: 'shop.sql', afterFile: null, sizeBytes: 100, fingerprint: '100:1' });
    core.world.faults.exec = async () => ({ exitCode: 1, stderr: 'ERROR: syntax error at or near "CREAT"' });
    await (await core.importer.start('shop')).done;
    expect(core.reports.filter((r) => r.kind === 'imported').map((r) => r.report)).toEqual([
      { template: 'shop', engine: 'postgres', outcome: 'failed', durationMs: expect.any(Number) },
    ]);
  });

  it('the webhook route: each delivery once, by event and outcome; unverified ones without their event', async () => {
    const rec = recorder();
    const seen = new Set<string>();
    const app = new Hono();
    app.route('/hook', createWebhookRoutes({
      secret: 's3cret',
      deliveries: { seen: async (id) => seen.has(id), record: async (id) => void seen.add(id) },
      pullRequests: pullRequestHandlerFor({
        instances: createFakeInstancePort(), repos: { 'codertocat/hello-world': ['chinook'] }, allowForks: false, resetOnPush: false, log: createMemoryLogger(),
      }),
      log: createMemoryLogger(),
      telemetry: rec.t,
    }));
    const send = (event: string, payload: unknown, o: { secret?: string; delivery?: string } = {}) =>
      app.request('/hook', webhookRequest(event, payload, { secret: o.secret ?? 's3cret', delivery: o.delivery }));
    expect((await send('pull_request', pullRequestPayload('opened'), { delivery: 'd1' })).status).toBe(200);
    expect((await send('pull_request', pullRequestPayload('opened'), { delivery: 'd1' })).status).toBe(200);
    expect((await send('pull_request', pullRequestPayload('opened'), { secret: 'wrong', delivery: 'd2' })).status).toBe(401);
    expect((await send('ping', pingPayload(), { delivery: 'd3' })).status).toBe(200);
    expect((await send('made_up_event', { zen: 'x' }, { delivery: 'd4' })).status).toBe(202);
    expect(rec.of('webhook')).toEqual([
      { event: 'pull_request', outcome: 'handled' },
      { event: 'pull_request', outcome: 'duplicate' },
      { event: 'unverified', outcome: 'rejected' },
      { event: 'ping', outcome: 'ping' },
      { event: 'other', outcome: 'handled' },
    ]);
  });

  describe('the GitHub client', () => {
    let server: Server | null = null;
    afterEach(async () => {
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      server = null;
    });

    it('a call that failed after its retries, with its operation and status; none when nothing answered', async () => {
      server = createServer((_req, res) => {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Bad Gateway' }));
      });
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const rec = recorder();
      const opts = { token: 't', appId: null, privateKey: null, clock: systemClock(), retries: 1, retryBaseMs: 1, telemetry: rec.t };
      const client = createGitHubClient({ ...opts, apiUrl: url }, createMemoryLogger());
      await expect(client.createComment({ owner: 'o', repo: 'r', number: 1 }, 'hi')).rejects.toThrow(/create comment/);
      expect(rec.of('githubError')).toEqual([{ operation: 'create comment', status: 502 }]);

      await new Promise<void>((r) => server!.close(() => r()));
      server = null;
      const gone = createGitHubClient({ ...opts, apiUrl: url, retries: 0 }, createMemoryLogger());
      await expect(gone.listOpenPulls({ owner: 'o', repo: 'r' })).rejects.toThrow(/list open pulls/);
      expect(rec.of('githubError').at(-1)).toEqual({ operation: 'list open pulls', status: null });
    });
  });
});

describe('the Grafana dashboard (deploy/grafana/myaas.json)', () => {
  it('queries only series the controller exposes, through its data source variable', async () => {
    const dashboard = JSON.parse(await readFile(new URL('../../deploy/grafana/myaas.json', import.meta.url), 'utf8'));
    const registry = new Registry();
    createPromMetrics({ registry, warmPoolTarget: 1, poolPath: '/data', readings: async () => readings() });
    const exposed = new Set(
      [...parsePromText(await registry.metrics()).values()].flatMap((f) =>
        f.type === 'histogram' ? [f.name, `${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`] : [f.name],
      ),
    );

    const panels = (dashboard.panels as any[]).filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(10);
    const used = new Set<string>();
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) {
        for (const name of t.expr.match(/\b(?:myaas|process|nodejs)_[a-z0-9_]+/g) ?? []) used.add(name);
        // Valid PromQL once Grafana has put in its variables (Prometheus' own parser, as its UI uses).
        const q = t.expr.replaceAll('$__rate_interval', '1m').replaceAll('$instance', '.*').replaceAll('$template', '.*');
        let syntaxError = false;
        promql.parse(q).iterate({ enter: (n) => void (n.type.isError && (syntaxError = true)) });
        expect(syntaxError, `${p.title}: ${q}`).toBe(false);
      }
    }
    for (const name of used) expect(exposed, `${name} is not exposed`).toContain(name);
    // Every series an operator was promised has a panel.
    for (const name of [
      'myaas_pool_used_bytes', 'myaas_pool_free_bytes', 'myaas_instances', 'myaas_warm_pool_instances', 'myaas_clone_to_ready_seconds_bucket',
      'myaas_import_duration_seconds_bucket', 'myaas_webhook_deliveries_total', 'myaas_reconcile_pass_seconds_bucket', 'myaas_github_api_errors_total',
    ]) expect(used, name).toContain(name);
  });
});
