// The composition root: config → logger → adapters (storage, runtime, state DB, host) → jobs →
// services → GitHub → HTTP. The only place that builds real clients; everything else gets them.
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import { Registry } from 'prom-client';
import type { Config } from './config.js';
import { messageOf } from './domain/errors.js';
import { homeSelector, roleOf } from './domain/labels.js';
import { reserveBytes } from './domain/disk.js';
import { createPaths } from './domain/layout.js';
import type { Logger } from './domain/logger.js';
import type { EngineName } from './domain/types.js';
import { openStateDb } from './db/client.js';
import { openLeaderLock } from './db/leader-lock.js';
import type { LeaderRole } from './domain/leader.js';
import { createStore } from './db/queries.js';
import { createEngine, type Engine } from './engines/index.js';
import { createCommandRunner } from './host/command.js';
import { createDumpSource } from './host/dumps.js';
import { createHostFiles, useOwnerOnlyUmask } from './host/files.js';
import { createPromMetrics, createStandbyMetrics } from './host/metrics.js';
import { createHostNet } from './host/net.js';
import { createWakeListeners } from './host/wake-listeners.js';
import { lockDataDir, lockDataDirWhenFree } from './host/lock.js';
import { systemClock } from './lib/clock.js';
import { createEmitter } from './lib/emitter.js';
import { createRuntime } from './runtime/index.js';
import { createSplitRuntime } from './runtime/split.js';
import { createSwarmRuntime, type SwarmRuntime } from './runtime/swarm.js';
import { createPoolShipping } from './storage/cluster-pools.js';
import { createClusterSync } from './jobs/cluster-sync.js';
import { resolveStorage } from './storage/index.js';
import type { Importer, InstanceService, Reconciler, Runtime, Storage, Store, Telemetry } from './app/ports.js';
import { createInstanceService } from './app/instances.js';
import { createStatusService } from './app/status.js';
import { createTemplateService } from './app/templates.js';
import { createImporter } from './jobs/importer.js';
import { createReaper } from './jobs/reaper.js';
import { createReconciler } from './jobs/reconciler.js';
import { createSuspender, pollEveryMs, type Suspender } from './jobs/suspender.js';
import { startScheduler, type ScheduledTask } from './jobs/scheduler.js';
import { createWarmPool } from './jobs/warm-pool.js';
import { startLeaderElection } from './jobs/leader.js';
import { createHandoverBook } from './jobs/handovers.js';
import { createGitHubClient, githubAuthConfigured } from './github/client.js';
import { createCommentUpdater } from './github/comment.js';
import { createChatOps, type ChatOps } from './github/chatops-handler.js';
import { createChatOpsTarget } from './github/chatops-target.js';
import { createOidcVerifier } from './github/oidc.js';
import { createPullRequestHandler } from './github/pull-requests.js';
import { createRepositoryGate } from './github/repository-gate.js';
import { createPullRequestSweep } from './github/pull-sync.js';
import { createApp } from './http/app.js';
import { adminTokenCheck, createAuth } from './http/auth.js';
import { createStatusPage } from './http/status-page.js';
import { createStandbyApp } from './http/standby.js';
import { createWebhookRoutes } from './http/webhooks.js';
import { prepareHostSafety } from './safety.js';

export interface Controller {
  app: Hono;
  store: Store;
  storage: Storage;
  runtime: Runtime;
  importer: Importer;
  reconciler: Reconciler;
  instances: InstanceService;
  /** one reconcile sweep (orphans, expiry, convergence) and a warm-pool refill */
  sweep(): Promise<unknown>;
  /** starts timers and runs the first sweep */
  start(): Promise<void>;
  /** records where the controller serves its API, for other commands that find the data dir in use */
  announce(url: string): Promise<void>;
  close(): Promise<void>;
}

export interface BuildOptions {
  command?: string;
  /** with the leader lock: this controller's role (health, myaas_leader); it waits for the data dir's previous holder to go */
  leader?: () => LeaderRole;
}

export async function buildController(config: Config, log: Logger, opts: BuildOptions = {}): Promise<Controller> {
  const clock = systemClock();
  const runner = createCommandRunner();
  const storage = await resolveStorage(config.storage, config.dataDir, runner);
  // Before anything opens the state DB or touches the pool: two processes on one data dir would
  // each take the other's work for leftovers of a crash.
  const lock = opts.leader
    ? await lockDataDirWhenFree(config.dataDir, opts.command ?? 'serve', {
      onWait: (holder) => log.warn({ holder }, 'waiting for the data dir: its holder stops once it has lost the leader lock'),
    })
    : await lockDataDir(config.dataDir, opts.command ?? 'serve');
  const { runtime, cluster } = buildRuntime(config);
  const files = createHostFiles(runner);
  const dumps = createDumpSource(config.dumpsDir);
  const paths = createPaths(config.dataDir);
  const engineCache = new Map<EngineName, Engine>();
  const engines = (name: EngineName) => engineCache.get(name) ?? engineCache.set(name, createEngine(name, clock)).get(name)!;
  // Issue 9: owner-only folders (before the state DB writes), disk limits and reserve, TLS, isolation.
  const safety = await prepareHostSafety(config, {
    storage, files, runner, paths, log, engineUsers: (['postgres', 'mariadb'] as const).map((e) => engines(e).user),
  }).catch(async (e) => {
    await lock.release();
    throw e;
  });
  const state = await openStateDb({ databaseUrl: config.databaseUrl, pgliteDir: paths.stateDir }).catch(async (e) => {
    await lock.release();
    throw e;
  });
  // PGlite makes its files 0666 whatever the umask; its folder is 0700, and these are taken back too.
  if (state.kind === 'pglite') await files.makeOwnerOnly(paths.stateDir, { recursive: true });
  const store = createStore(state.db);
  const changes = createEmitter<string>((e) => log.warn({ err: messageOf(e) }, 'instance change listener failed'));
  const home = config.dataDir; // label value: this controller's containers, when several share one Docker engine
  // Metrics: one registry per controller (prom-client's global one is never used). The gauges read
  // the status service (built below, once the services exist) at each scrape.
  const metrics = createPromMetrics({
    registry: new Registry(), warmPoolTarget: config.warmPool, poolPath: config.dataDir, readings: () => status.readings(),
    diskLimits: () => safety.disk.status(), leader: opts.leader,
  });
  const telemetry: Telemetry = metrics;

  const importer = createImporter({
    store, storage, runtime, files, dumps, engines, paths, clock, home, telemetry, log, images: config.images, jobs: config.importJobs,
    timeoutMs: config.importTimeoutMs, schemaVariants: config.schemaVariants, limits: safety.importLimits, disk: safety.disk,
  });
  const handovers = createHandoverBook();
  // Built after the reconciler (it suspends and resumes through it); the reconciler calls back before a start.
  let suspender: Suspender | null = null;
  const reconciler = createReconciler({
    beforeStart: (id) => suspender?.release(id) ?? Promise.resolve(),
    store, storage, runtime, engines, paths, clock, home, importer, changes, telemetry, handovers, log,
    net: createHostNet(), portRange: config.portRange, memoryBytes: config.memoryBytes, cpus: config.cpus, retryAttempts: config.retryAttempts,
    capacity: { max: config.maxInstances, perRepo: config.maxInstancesPerRepo }, concurrency: config.provisionConcurrency,
    publishIp: config.publishIp, network: config.network, probeHost: config.probeHost, readyTimeoutMs: config.readyTimeoutMs,
    safety: safety.instance,
    cluster: cluster && config.swarm
      ? { volumeDriver: config.swarm.volumeDriver, reserveMemoryBytes: Math.min(config.memoryBytes, CLUSTER_RESERVE_BYTES) }
      : null,
  });
  suspender = createSuspender({
    store, reconciler, engines, listeners: createWakeListeners(runner), changes, clock, log,
    idleMs: config.idleSuspendSeconds * 1000, publishIp: config.publishIp, probeHost: config.probeHost,
  });
  const warmPool = createWarmPool({
    store, reconciler, handovers, changes, engines, clock, size: config.warmPool, maxInstances: config.maxInstances, probeHost: config.probeHost, log,
  });
  const pinnedVersions = new Set(Object.values(config.github.versionPins).flatMap((pins) => Object.values(pins)));
  // Many hosts: versions shipped to the nodes' pools, nodes labelled with what they hold.
  const clusterSync = cluster && config.swarm
    ? createClusterSync({ nodes: cluster, shipping: createPoolShipping({ source: config.dataDir, pools: config.swarm.pools, runner, removeVersion: (path) => storage.remove(path),
      agent: config.swarm.agent ? { token: config.swarm.agent.token, ca: config.swarm.agent.caFile ? readFileSync(config.swarm.agent.caFile, 'utf8') : undefined } : undefined }),
      store, home, log, pinned: pinnedVersions,
      reserveBytes: (total) => reserveBytes(config.safety.diskReserve, total) })
    : null;
  const syncCluster = async () => {
    if (!clusterSync) return;
    const r = await clusterSync.sync();
    if (r.shipped.length || r.failed.length) log.info({ shipped: r.shipped.length, failed: r.failed.length, labelled: r.labelled }, 'template versions synced to the nodes');
  };
  // A template's new version: its waiting instances can be built (on a cluster once it is on the
  // nodes), and warm pools move to it.
  importer.onFinished((template) => {
    void syncCluster()
      .catch((e) => log.error({ err: messageOf(e) }, 'could not ship the new version to the nodes'))
      .then(() => {
        void reconciler.wakeAll({ template, retryFailed: true });
        void warmPool.refill();
      });
  });
  const reaper = createReaper({ store, runtime, storage, files, importer, reconciler, changes, paths, clock, home, telemetry, log, pinnedVersions });
  const templates = createTemplateService({ store, dumps, importer });
  const status = createStatusService({ store, templates, runtime, storage, files, paths, clock, warmPoolTarget: config.warmPool, log });
  const instances = createInstanceService({
    store, reconciler, templates, warmPool, changes, engines, clock,
    publicHost: config.publicHost, probeHost: config.probeHost, portRange: config.portRange, disk: safety.disk,
    lifetimes: {
      pull: config.github.prTtlSeconds, idle: config.github.idleTtlSeconds, run: config.runTtlSeconds, api: config.instanceTtlSeconds, max: config.maxTtlSeconds,
    },
  });
  const sweep = () => syncCluster().then(() => reaper.run()).then(() => warmPool.refill());

  const gh = config.github;
  const closers: Array<() => void> = [];
  const gate = createRepositoryGate({ repos: gh.repos, pins: gh.repoPins, allowForks: gh.allowForks, store, clock, log });
  const pullRequests = createPullRequestHandler({
    instances, repos: gh.repos, versionPins: gh.versionPins, gate, pulls: store, clock, allowForks: gh.allowForks, resetOnPush: gh.resetOnPush, log,
  });
  const tasks: ScheduledTask[] = [
    { name: 'reconcile sweep', run: sweep, everyMs: config.reconcileIntervalMs },
    ...(config.idleSuspendSeconds > 0 ? [{ name: 'idle suspend', run: () => suspender!.poll(), everyMs: pollEveryMs(config.idleSuspendSeconds * 1000) }] : []),
    { name: 'scheduled import', cron: config.importSchedule, run: async () => {
      for (const t of (await templates.list()).templates) await templates.startImport(t.name).catch((e) => log.error({ template: t.name, err: messageOf(e) }, 'scheduled import not started'));
    } },
  ];
  // ChatOps needs the API (reactions, replies): with a token or App configured.
  let chatOps: ChatOps | undefined;
  if (githubAuthConfigured(gh)) {
    const client = createGitHubClient({ apiUrl: gh.apiUrl, token: gh.token, appId: gh.appId, privateKey: gh.privateKey, clock, telemetry }, log);
    const comments = createCommentUpdater({
      client, log, commentPassword: gh.commentPassword, isPrivate: (repo) => gate.isPrivate(repo), publicHost: config.publicHost, instances,
      idleExpiry: gh.idleTtlSeconds > 0,
    });
    instances.onChange((v) => void comments.onChange(v));
    closers.push(() => comments.close());
    chatOps = createChatOps({
      target: createChatOpsTarget({ instances, pullRequests, pulls: store, repos: gh.repos, clock }),
      client,
      log,
    });
    const prSweep = createPullRequestSweep({ client, instances, pullRequests, repos: gh.repos, log });
    tasks.push({ name: 'pull request sweep', run: () => prSweep.runOnce(), everyMs: gh.sweepIntervalMs });
  }
  const webhooks = createWebhookRoutes({
    secret: gh.webhookSecret,
    deliveries: { seen: (id) => store.deliverySeen(id), record: (id) => store.recordDelivery(id) },
    pullRequests,
    chatOps,
    log,
    telemetry,
  });
  const oidc = createOidcVerifier({ issuer: config.oidc.issuer, audience: config.oidc.audience, jwksUrl: config.oidc.jwksUrl });

  const app = createApp({
    api: { instances, templates, repos: gh.repos, versionPins: gh.versionPins, gate },
    auth: createAuth({ apiTokens: config.apiTokens, metricsTokens: config.metricsTokens, oidc, gate }),
    webhooks,
    metrics: () => metrics.expose(),
    statusPage: createStatusPage({
      status,
      isAdminToken: adminTokenCheck(config.apiTokens),
      tokensConfigured: config.apiTokens.length > 0,
      githubWebUrl: gh.webUrl,
      log,
    }),
    health: async () => {
      const docker = await runtime.ping().then(() => 'ok' as const, () => 'unreachable' as const);
      // Unauthenticated: the pool's numbers, not where it is.
      const disk = await safety.disk.status().then(({ path: _path, ...numbers }) => numbers, () => undefined);
      return { ok: docker === 'ok', storage: storage.name, docker, version: '0.1.0', disk, ...(opts.leader ? { role: opts.leader() } : {}) };
    },
    log,
  });

  let scheduler: { stop(): void } | null = null;
  let unwatch: (() => void) | null = null;
  return {
    app, store, storage, runtime, importer, reconciler, instances, sweep,
    async start() {
      await runtime.ping();
      await safety.isolate();
      // Before any instance converges: the nodes must hold the versions instances are placed by.
      await syncCluster();
      // Follow the engine before the first sweep, so nothing that happens during it is missed.
      unwatch = runtime.watch(homeSelector(home), (e) => reconciler.observe(e));
      // Orphans go before anything else happens; the live instances converge while the API already
      // answers (webhooks and callers must not wait for every instance to be provisioned again).
      const report = await reaper.run({ waitForInstances: false });
      log.info({ ...report, removed: report.removed.length }, 'start-up sweep done');
      // Suspended instances listen on their ports again (they hold no container that could).
      const parked = await suspender!.restore();
      if (parked) log.info({ parked }, 'suspended instances listen for clients again');
      await warmPool.refill();
      scheduler = startScheduler(tasks, log);
    },
    announce: (url) => lock.announce(url),
    async close() {
      scheduler?.stop();
      unwatch?.();
      for (const c of closers) c();
      warmPool.close();
      reconciler.close();
      await chatOps?.idle();
      await reconciler.idle();
      // After the reconciler's last turn: a suspension in flight has made its listener by then.
      await suspender!.close();
      // A shipment in flight reads template versions (btrfs send): let it end before anything is removed.
      await clusterSync?.idle();
      runner.close(); // its helper process ends (every command of ours has finished by now)
      await state.close();
      await lock.release();
    },
  };
}

/** What Swarm sets aside on a node per instance (at most its memory limit): it places by reservations. */
const CLUSTER_RESERVE_BYTES = 128 * 1024 * 1024;

/**
 * The runtime instances run on. One host: its Docker engine. A Swarm: instances are services on the
 * nodes, while imports still run on this host's engine, into this host's pool.
 */
function buildRuntime(config: Config): { runtime: Runtime; cluster: SwarmRuntime | null } {
  const local = createRuntime('docker', { dockerHost: config.dockerHost });
  if (config.runtime !== 'swarm' || !config.swarm) return { runtime: local, cluster: null };
  const engines = config.swarm.engines;
  const cluster = createSwarmRuntime({ managerHost: config.swarm.manager, nodeHost: (n) => engines[n.hostname] ?? null });
  return { runtime: createSplitRuntime({ local, cluster, onCluster: (labels) => roleOf(labels) === 'instance' }), cluster };
}

/** Where a command on this machine reaches the controller's API. */
function localUrl(config: Config): string {
  const host = config.listenHost === '0.0.0.0' || config.listenHost === '::' ? '127.0.0.1' : config.listenHost;
  return `${config.safety.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${config.port}`;
}

/** Serves `app` over HTTPS when MYAAS_TLS_CERT and MYAAS_TLS_KEY are set, plain HTTP otherwise. */
export function listen(app: Pick<Hono, 'fetch'>, config: Config, port = config.port): ServerType {
  const base = { fetch: app.fetch, port, hostname: config.listenHost };
  const tls = config.safety.tls;
  if (!tls) return serve(base);
  let serverOptions: { cert: Buffer; key: Buffer };
  try {
    serverOptions = { cert: readFileSync(tls.cert), key: readFileSync(tls.key) };
  } catch (e) {
    throw new Error(`cannot read MYAAS_TLS_CERT/MYAAS_TLS_KEY (${messageOf(e)}): give readable PEM files`);
  }
  return serve({ ...base, createServer: createHttpsServer, serverOptions });
}

/** `myaas serve`: builds the controller and listens until SIGINT/SIGTERM. */
export async function serveController(config: Config, log: Logger): Promise<{ server: ServerType }> {
  useOwnerOnlyUmask(); // the state DB and everything else this process writes: owner-only (issue 9)
  if (config.leaderLock && config.databaseUrl) return { server: await serveWithLeaderLock(config, config.databaseUrl, log) };
  const controller = await buildController(config, log);
  await controller.start();
  const server = listen(controller.app, config);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  await controller.announce(localUrl(config));
  log.info({ port: config.port, tls: config.safety.tls !== null, storage: controller.storage.name, dataDir: config.dataDir }, 'myaas controller listening');
  const stop = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    server.close();
    await controller.close().catch(() => {});
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  return { server };
}

// The leader lock (docs/many-hosts.md): a standby asks every second; the active one checks every 2 s,
// a check unanswered for 2 s fails. A controller that wins waits 2 checks before it acts, so that
// an active one that lost its lock without noticing at once has stopped by then.
const LEADER_POLL_MS = 1000;
const LEADER_CHECK_MS = 2000;

/**
 * `myaas serve` with DATABASE_URL: the controllers that share the state DB elect one active one with
 * a PostgreSQL advisory lock. Until it wins, this one is a standby: it serves its health (role
 * standby, who is active) and answers the API with 503, and touches neither the data dir nor the
 * state. Once it wins it builds and starts the controller as a lone one would. If it loses the lock,
 * it exits at once: a supervisor starts it again, as a standby.
 */
async function serveWithLeaderLock(config: Config, databaseUrl: string, log: Logger): Promise<ServerType> {
  const lock = await openLeaderLock({ databaseUrl, me: { url: config.publicUrl, host: hostname(), pid: process.pid } });
  const election = startLeaderElection({
    lock, pollMs: LEADER_POLL_MS, checkMs: LEADER_CHECK_MS, log,
    onLost: (reason) => {
      // Never two actives: stop acting now. Work in flight is left as a crash leaves it, which the
      // next active controller's reconciler converges.
      log.error({ reason }, 'lost the leader lock: exiting at once so that another controller takes over; restart this one (a supervisor does) and it stands by');
      process.exit(1);
    },
  });
  const role = (): LeaderRole => {
    const r = election.role();
    return r === 'active' || r === 'starting' ? r : 'standby';
  };
  const runtime = createRuntime('docker', { dockerHost: config.dockerHost });
  const standby = createStandbyApp({
    role: () => (role() === 'starting' ? 'starting' : 'standby'),
    active: () => lock.active(),
    health: async () => {
      const docker = await runtime.ping().then(() => 'ok' as const, () => 'unreachable' as const);
      return { ok: docker === 'ok', storage: config.storage, docker, version: '0.1.0' };
    },
    metrics: createStandbyMetrics({ registry: new Registry(), role }).expose,
    metricsTokens: [...config.apiTokens, ...config.metricsTokens],
    retryAfterSeconds: 2,
    log,
  });
  let current: Pick<Hono, 'fetch'> = standby;
  const server = listen({ fetch: (req, ...rest) => current.fetch(req, ...rest) }, config);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  let controller: Controller | null = null;
  const stop = async (signal: string) => {
    log.info({ signal, role: role() }, 'shutting down');
    election.stop();
    server.close();
    await controller?.close().catch(() => {});
    await lock.close().catch(() => {}); // after the controller has stopped: then another may act
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  const holder = await lock.active().catch(() => null);
  log.info({ port: config.port, active: holder }, 'myaas controller listening as a standby: waiting for the leader lock');
  try {
    await election.won();
  } catch {
    return server; // stopped before winning
  }
  log.info({ url: config.publicUrl }, 'took the leader lock: starting');
  const [built] = await Promise.all([
    buildController(config, log, { leader: role }),
    new Promise((r) => setTimeout(r, 2 * LEADER_CHECK_MS)),
  ]);
  controller = built;
  await lock.record(); // the state DB is migrated now: a first controller on a fresh one records itself here
  await built.start();
  election.serving();
  current = built.app;
  await built.announce(localUrl(config));
  log.info({ port: config.port, storage: built.storage.name, dataDir: config.dataDir }, 'myaas controller active: serving the API');
  return server;
}
