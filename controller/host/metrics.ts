// Prometheus metrics over prom-client: implements the core's Telemetry (app/ports.ts) with counters
// and histograms, and reads gauges (pool, instances, warm pool) at each scrape. The registry is
// made by main.ts and passed in: nothing here touches prom-client's global default registry.
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type {
  GitHubErrorReport,
  ImportReport,
  MetricsReadings,
  StatusCount,
  TemplateRef,
  WebhookReport,
} from '../domain/telemetry.js';
import type { ProvisionTimings } from '../domain/types.js';
import type { LeaderRole } from '../domain/leader.js';

export interface PromMetricsOptions {
  registry: Registry;
  /** read once per scrape, shared by every gauge of that scrape */
  readings: () => Promise<MetricsReadings>;
  /** MYAAS_WARM_POOL: the warm pool's target size per template */
  warmPoolTarget: number;
  /** the data dir: the pool gauges' `path` label */
  poolPath: string;
  /** Node.js process metrics (CPU, memory, event loop, GC); off in unit tests that count series */
  processMetrics?: boolean;
  /** the pool's reserve and the per-instance disk limit (MYAAS_DISK_RESERVE, MYAAS_DISK_LIMIT), read per scrape */
  diskLimits?: () => Promise<{ reserveBytes: number; limitBytes: number }>;
  /** with a leader lock (DATABASE_URL): this controller's role, as the gauge myaas_leader */
  leader?: () => LeaderRole;
}

export interface PromMetrics {
  // Telemetry (app/ports.ts), checked where main.ts hands this to the core.
  provisioned(timings: ProvisionTimings, about: TemplateRef): void;
  imported(report: ImportReport): void;
  reconciled(report: { outcome: 'ok' | 'error'; durationMs: number }): void;
  swept(report: { durationMs: number }): void;
  webhook(report: WebhookReport): void;
  githubError(report: GitHubErrorReport): void;
  /** The text exposition and its content type, for GET /api/v1/metrics. */
  expose(): Promise<{ contentType: string; body: string }>;
}

// Clone-to-ready is about a second on a copy-on-write pool and up to the ready timeout (60 s) when
// something is wrong; imports take seconds to hours.
const READY_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];
const STEP_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];
const IMPORT_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400];
const PASS_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

const seconds = (ms: number) => Math.max(0, ms) / 1000;

export function createPromMetrics(opts: PromMetricsOptions): PromMetrics {
  const registers = [opts.registry];
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: opts.registry });

  // One read per scrape: the registry collects every metric at once, so the gauges below share
  // the promise of the first one instead of each querying the state DB.
  // A failed read (state DB away) leaves these gauges empty for that scrape, and is counted, so the
  // process metrics and counters are still served.
  const readErrors = new Counter({
    name: 'myaas_metrics_read_errors_total',
    help: 'Scrapes whose pool or state-DB readings failed (their gauges were left out).',
    registers,
    // Rendered with the gauges of the same scrape, so a failure of this one is already counted.
    async collect() {
      await read();
    },
  });
  let current: Promise<MetricsReadings | null> | null = null;
  const read = () =>
    (current ??= opts
      .readings()
      .catch(() => {
        readErrors.inc();
        return null;
      })
      .finally(() => (current = null)));

  const byTemplateAndStatus = (name: string, help: string, pick: (r: MetricsReadings) => StatusCount[]) =>
    new Gauge({
      name,
      help,
      labelNames: ['template', 'status'] as const,
      registers,
      async collect() {
        const readings = await read();
        this.reset(); // a template or status that is gone must not linger with its last value
        for (const r of readings ? pick(readings) : []) this.set({ template: r.template, status: r.status }, r.count);
      },
    });
  // Labelled with the path so that an unknown pool is an absent series, not a 0 that looks like a full disk.
  const poolGauge = (name: string, help: string, pick: (p: NonNullable<MetricsReadings['pool']>) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['path'] as const,
      registers,
      async collect() {
        const pool = (await read())?.pool;
        this.reset();
        if (pool) this.set({ path: opts.poolPath }, pick(pool));
      },
    });

  poolGauge('myaas_pool_size_bytes', 'Size of the filesystem that holds the data dir (the pool).', (p) => p.totalBytes);
  poolGauge('myaas_pool_used_bytes', 'Bytes used on the pool.', (p) => p.usedBytes);
  poolGauge('myaas_pool_free_bytes', 'Bytes available on the pool (as df shows them).', (p) => p.freeBytes);
  const limitGauge = (name: string, help: string, pick: (l: { reserveBytes: number; limitBytes: number }) => number) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        const l = await opts.diskLimits?.().catch(() => null);
        this.reset();
        if (l) this.set(pick(l));
      },
    });
  limitGauge('myaas_pool_reserve_bytes', 'Free bytes kept for template versions and state: below it new instances and imports are refused (507).', (l) => l.reserveBytes);
  limitGauge('myaas_instance_disk_limit_bytes', 'What one instance may write (MYAAS_DISK_LIMIT; 0 without a limit).', (l) => l.limitBytes);
  byTemplateAndStatus('myaas_instances', 'Live instances by template and status (without the warm pool).', (r) => r.instances);
  byTemplateAndStatus('myaas_warm_pool_instances', 'Unclaimed warm-pool instances by template and status.', (r) => r.warmPool);
  byTemplateAndStatus('myaas_template_versions', 'Template versions by template and status.', (r) => r.versions);
  if (opts.leader) leaderGauge(registers, opts.leader);
  new Gauge({
    name: 'myaas_warm_pool_target',
    help: 'Warm instances the controller keeps per template (MYAAS_WARM_POOL).',
    registers,
  }).set(opts.warmPoolTarget);

  const ready = new Histogram({
    name: 'myaas_clone_to_ready_seconds',
    help: 'Time from the start of the clone to a ready instance (authenticated probe passed).',
    labelNames: ['template', 'engine'] as const,
    buckets: READY_BUCKETS,
    registers,
  });
  const step = new Histogram({
    name: 'myaas_provision_step_seconds',
    help: 'Time of each provisioning step: clone, start (container), rotate (password), probe.',
    labelNames: ['engine', 'step'] as const,
    buckets: STEP_BUCKETS,
    registers,
  });
  const imports = new Histogram({
    name: 'myaas_import_duration_seconds',
    help: 'Time of template imports, from start to ready or failed.',
    labelNames: ['template', 'engine', 'outcome'] as const,
    buckets: IMPORT_BUCKETS,
    registers,
  });
  const pass = new Histogram({
    name: 'myaas_reconcile_pass_seconds',
    help: 'Time of one reconcile pass of one instance; outcome error when the pass threw and waits for the next sweep.',
    labelNames: ['outcome'] as const,
    buckets: PASS_BUCKETS,
    registers,
  });
  const sweep = new Histogram({
    name: 'myaas_reconcile_sweep_seconds',
    help: 'Time of one sweep: interrupted imports, orphans both ways, expiry, every live instance converged.',
    buckets: PASS_BUCKETS,
    registers,
  });
  const webhooks = new Counter({
    name: 'myaas_webhook_deliveries_total',
    help: 'GitHub webhook deliveries by event and how they were answered.',
    labelNames: ['event', 'outcome'] as const,
    registers,
  });
  const githubErrors = new Counter({
    name: 'myaas_github_api_errors_total',
    help: 'GitHub API calls that failed after their retries, by operation and HTTP status (none: no answer).',
    labelNames: ['operation', 'status'] as const,
    registers,
  });

  return {
    provisioned(t, about) {
      ready.observe({ template: about.template, engine: about.engine }, seconds(t.totalMs));
      for (const [name, ms] of [['clone', t.cloneMs], ['start', t.startMs], ['rotate', t.rotateMs], ['probe', t.probeMs]] as const) {
        step.observe({ engine: about.engine, step: name }, seconds(ms));
      }
    },
    imported: (r) => imports.observe({ template: r.template, engine: r.engine, outcome: r.outcome }, seconds(r.durationMs)),
    reconciled: (r) => pass.observe({ outcome: r.outcome }, seconds(r.durationMs)),
    swept: (r) => sweep.observe(seconds(r.durationMs)),
    webhook: (r) => webhooks.inc({ event: r.event, outcome: r.outcome }),
    githubError: (r) => githubErrors.inc({ operation: r.operation.replace(/\s+/g, '_'), status: r.status === null ? 'none' : String(r.status) }),
    async expose() {
      return { contentType: opts.registry.contentType, body: await opts.registry.metrics() };
    },
  };
}

/** myaas_leader: 1 while this controller is the active one, 0 while it is a standby (or starting). */
function leaderGauge(registers: Registry[], role: () => LeaderRole): void {
  new Gauge({
    name: 'myaas_leader',
    help: 'Whether this controller holds the leader lock and serves (1) or is a standby (0); the sum over the replicas is 1.',
    registers,
    collect() {
      this.set(role() === 'active' ? 1 : 0);
    },
  });
}

/** A standby's metrics: the leader gauge and the process' own. */
export function createStandbyMetrics(opts: { registry: Registry; role: () => LeaderRole; processMetrics?: boolean }): {
  expose(): Promise<{ contentType: string; body: string }>;
} {
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: opts.registry });
  leaderGauge([opts.registry], opts.role);
  return { expose: async () => ({ contentType: opts.registry.contentType, body: await opts.registry.metrics() }) };
}
