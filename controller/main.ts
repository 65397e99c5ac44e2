// The composition root: config → logger → state DB → storage → runtime → jobs → app → listen.
// The only place that builds real clients.
import { mkdir } from 'node:fs/promises';
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Config } from './config.js';
import { messageOf } from './domain/errors.js';
import type { Logger } from './domain/ports.js';
import type { EngineName } from './domain/types.js';
import { openStateDb } from './db/client.js';
import { createStore, type Store } from './db/store.js';
import { createEngine, type Engine } from './engines/index.js';
import { createGitHubClient, githubAuthConfigured } from './github/client.js';
import { createCommentUpdater } from './github/comment.js';
import { createOidcVerifier } from './github/oidc.js';
import { createPullRequestHandler } from './github/pull-requests.js';
import { createPullRequestSweep } from './github/sweep.js';
import { createApp } from './http/app.js';
import { createAuth } from './http/auth.js';
import { createMetrics } from './http/metrics.js';
import { createWebhookRoutes } from './http/webhooks.js';
import { createImporter, type Importer } from './jobs/importer.js';
import { createInstanceService, type InstanceService } from './jobs/instance-service.js';
import { createPaths } from './jobs/paths.js';
import { createReconciler, type Reconciler } from './jobs/reconciler.js';
import { startScheduler, type ScheduledTask } from './jobs/scheduler.js';
import { createSweep } from './jobs/sweep.js';
import { createTemplateService } from './jobs/template-service.js';
import { createWarmPool, type WarmPool } from './jobs/warm-pool.js';
import { createRuntime, type Runtime } from './runtime/index.js';
import { createCommandRunner, resolveStorage, type Storage } from './storage/index.js';

export interface Controller {
  app: Hono;
  store: Store;
  storage: Storage;
  runtime: Runtime;
  importer: Importer;
  reconciler: Reconciler;
  instances: InstanceService;
  /** one reconcile sweep (orphans, expiry, convergence) */
  sweep(): Promise<unknown>;
  /** starts timers and runs the first sweep */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function buildController(config: Config, log: Logger): Promise<Controller> {
  const runner = createCommandRunner();
  const storage = await resolveStorage(config.storage, config.dataDir, runner);
  const runtime = createRuntime('docker', { dockerHost: config.dockerHost });
  const paths = createPaths(config.dataDir);
  for (const d of [paths.templatesDir, paths.instancesDir, paths.stagingRoot]) await mkdir(d, { recursive: true });
  const state = await openStateDb({ databaseUrl: config.databaseUrl, pgliteDir: paths.stateDir });
  const store = createStore(state.db);
  const engineCache = new Map<EngineName, Engine>();
  const engines = (name: EngineName) => engineCache.get(name) ?? engineCache.set(name, createEngine(name)).get(name)!;
  const home = config.dataDir; // label value: this controller's containers, when several share one Docker engine

  let reconciler: Reconciler | null = null;
  let warmPool: WarmPool | null = null;
  const importer = createImporter({
    store, storage, runtime, runner, engines, paths, home, log,
    dumpsDir: config.dumpsDir, images: config.images, jobs: config.importJobs,
    onFinished: (template) => {
      void reconciler?.wakeTemplate(template);
      void warmPool?.refill();
    },
  });
  reconciler = createReconciler({
    store, storage, runtime, engines, paths, home, importer, log,
    portRange: config.portRange, memoryBytes: config.memoryBytes, cpus: config.cpus,
    publishIp: config.publishIp, network: config.network, probeHost: config.probeHost, readyTimeoutMs: config.readyTimeoutMs,
  });
  const sweep = createSweep({ store, runtime, storage, importer, reconciler, paths, home, log });
  warmPool = createWarmPool({
    store, reconciler, engines, size: config.warmPool, probeHost: config.probeHost, readyTimeoutMs: config.readyTimeoutMs, log,
  });
  const instances = createInstanceService({
    warmPool,
    store, reconciler, importer, engines, dumpsDir: config.dumpsDir, publicHost: config.publicHost,
    defaultTtlSeconds: config.instanceTtlSeconds, portRange: config.portRange,
  });
  const templates = createTemplateService({ store, dumpsDir: config.dumpsDir });
  const provisionSeconds: number[] = [];
  reconciler.onChange((id) => {
    const t = reconciler!.takeTimings(id);
    if (t && provisionSeconds.length < 100_000) provisionSeconds.push(t.totalMs / 1000);
  });

  const gh = config.github;
  const pullRequests = createPullRequestHandler({ instances: instances.port, repos: gh.repos, allowForks: gh.allowForks, resetOnPush: gh.resetOnPush, log });
  const tasks: ScheduledTask[] = [
    { name: 'reconcile sweep', run: () => sweep.run().then(() => warmPool!.refill()), everyMs: config.reconcileIntervalMs },
    { name: 'scheduled import', cron: config.importSchedule, run: async () => {
      for (const t of (await templates.list()).templates) await importer.start(t.name).catch((e) => log.error({ template: t.name, err: messageOf(e) }, 'scheduled import not started'));
    } },
  ];
  if (githubAuthConfigured(gh)) {
    const client = createGitHubClient({ apiUrl: gh.apiUrl, token: gh.token, appId: gh.appId, privateKey: gh.privateKey }, log);
    const comments = createCommentUpdater({ client, log, commentPassword: gh.commentPassword, publicHost: config.publicHost, instances: instances.port });
    instances.port.onChange((v) => {
      if (v.owner.startsWith('gh:') && v.owner.includes('#')) void comments.onChange(v);
    });
    const prSweep = createPullRequestSweep({ client, instances: instances.port, pullRequests, repos: gh.repos, log });
    tasks.push({ name: 'pull request sweep', run: () => prSweep.runOnce(), everyMs: gh.sweepIntervalMs });
  }
  const webhooks = createWebhookRoutes({ secret: gh.webhookSecret, deliveries: { firstTime: (id) => store.firstDelivery(id), forget: (id) => store.forgetDelivery(id) }, pullRequests, log });
  const oidc = createOidcVerifier({ issuer: config.oidc.issuer, audience: config.oidc.audience, jwksUrl: config.oidc.jwksUrl });

  const app = createApp({
    api: { instances, templates, importer, repos: gh.repos },
    auth: createAuth({ apiTokens: config.apiTokens, oidc }),
    webhooks,
    metrics: createMetrics({ store, provisionSeconds: () => provisionSeconds }),
    health: async () => {
      const docker = await runtime.ping().then(() => 'ok' as const, () => 'unreachable' as const);
      return { ok: docker === 'ok', storage: storage.name, docker, version: '0.1.0' };
    },
    log,
  });

  let scheduler: { stop(): void } | null = null;
  return {
    app, store, storage, runtime, importer, reconciler, instances,
    sweep: () => sweep.run().then(() => warmPool!.refill()),
    async start() {
      await runtime.ping();
      const report = await sweep.run();
      log.info({ ...report, removed: report.removed.length }, 'start-up sweep done');
      await warmPool!.refill();
      scheduler = startScheduler(tasks, log);
    },
    async close() {
      scheduler?.stop();
      warmPool!.close();
      await reconciler!.idle();
      await state.close();
    },
  };
}

/** `myaas serve`: builds the controller and listens until SIGINT/SIGTERM. */
export async function serveController(config: Config, log: Logger): Promise<{ server: ServerType; controller: Controller }> {
  const controller = await buildController(config, log);
  await controller.start();
  const server = serve({ fetch: controller.app.fetch, port: config.port, hostname: config.listenHost });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  log.info({ port: config.port, storage: controller.storage.name, dataDir: config.dataDir }, 'myaas controller listening');
  const stop = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    server.close();
    await controller.close().catch(() => {});
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  return { server, controller };
}
