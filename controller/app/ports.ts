// The core's contract with the rest of the controller. The services (app/) and the jobs (jobs/) use
// adapters only through the interfaces named here, and offer their own here, so that a reader sees
// every dependency of the core on one page, and tests replace any of them with a hand-written fake.
//
// Needed by the core (implemented by adapters one floor down; only main.ts builds them):
export type { Engine, EngineConn, AdminSession } from '../engines/engine.js';
export type { Storage } from '../storage/storage.js';
export type { Runtime, ContainerSpec, ContainerInfo, RuntimeEvent } from '../runtime/runtime.js';
export type { Store, InstancePatch, VersionPatch, GitHubStore, InstancePageQuery } from '../db/store.js';
export type { HostFiles } from '../host/files.js';
export type { DumpSource } from '../host/dumps.js';
export type { LeaderLock } from '../db/leader-lock.js';
export type { HostNet } from '../host/net.js';
export type { WakeListeners, HeldConnection } from '../host/wake-listeners.js';
export type { Clock } from '../lib/clock.js';
export type { Emitter } from '../lib/emitter.js';
export type { Logger } from '../domain/logger.js';
export type { CommandRunner } from '../domain/command.js';

import type { AdminSession, Engine } from '../engines/engine.js';
import type { RuntimeEvent } from '../runtime/runtime.js';
import type { InstancePageQuery } from '../db/store.js';
import type { Emitter } from '../lib/emitter.js';
import type { OwnerKey } from '../domain/owner.js';
import type { SchemaDiff } from '../domain/schema.js';
import type { GitHubErrorReport, ImportReport, MetricsReadings, PoolUsage, TemplateRef, WebhookReport } from '../domain/telemetry.js';
import type { PoolStatus } from '../domain/disk.js';
import type {
  EngineName,
  InstanceRecord,
  InstanceStatus,
  InstanceView,
  ProvisionTimings,
  TemplateSummary,
  TemplateVersion,
  VersionStatus,
} from '../domain/types.js';

/** The engine of a name (one object per engine, made once). */
export type Engines = (name: EngineName) => Engine;

/** Every write to an instance row is announced here with the instance's id. */
export type InstanceChanges = Emitter<string>;

/**
 * What the core (and the edges) report for metrics. An adapter (host/metrics.ts, over prom-client)
 * implements it; nothing that reports knows how it is exposed.
 */
export interface Telemetry {
  /** an instance became ready on a fresh or reused clone; `timings.totalMs` is clone-to-ready */
  provisioned(timings: ProvisionTimings, about: TemplateRef): void;
  /** an import ended, ready or failed */
  imported(report: ImportReport): void;
  /** one reconcile pass of one instance; `error` when the pass itself threw (retried on the next sweep) */
  reconciled(report: { outcome: 'ok' | 'error'; durationMs: number }): void;
  /** one sweep: interrupted imports, orphans, expiry, then every live instance woken */
  swept(report: { durationMs: number }): void;
  /** a GitHub webhook delivery was answered */
  webhook(report: WebhookReport): void;
  /** a GitHub API call failed after its retries */
  githubError(report: GitHubErrorReport): void;
}

// Offered by the jobs (jobs/), used by the services:

/** Converges instances towards what the state DB wants; the only thing that makes an instance ready. */
export interface Reconciler {
  /** Converges one instance; calls for one id run one after another and repeats coalesce. */
  wake(id: string): Promise<void>;
  /** Wakes every live instance (of one template); with retryFailed, those that failed for want of a template version retry. */
  wakeAll(filter?: { template?: string; retryFailed?: boolean }): Promise<void>;
  /** Acts on what the runtime reports (a server that died, an OOM kill, an interrupted event stream). */
  observe(e: RuntimeEvent): void;
  /** A failed or retrying instance gets its next attempt now, with its count of attempts restarted. */
  retryNow(id: string): Promise<void>;
  /** Starts queued instances while the caps (MYAAS_MAX_INSTANCES, …_PER_REPO) leave room. */
  admit(): Promise<void>;
  /**
   * Suspends a ready instance (MYAAS_IDLE_SUSPEND): `steps.beforeStop` has the last word, then status
   * suspended, its server stopped and its container removed, its clone, port and password kept; then
   * `steps.onStopped` runs (still in the instance's turn, so no start can bind its port before). False
   * when it was no longer ready or beforeStop said no.
   */
  suspend(id: string, steps: SuspendSteps): Promise<boolean>;
  /**
   * A suspended instance is started again on its clone, the road of any stopped server; resolves once
   * its status says so (provisioning), not when it is ready.
   */
  resume(id: string): Promise<void>;
  /** Resolves once no instance is being converged. */
  idle(): Promise<void>;
  /** Stops the timers of pending retries. */
  close(): void;
}

/** What the suspender does around a suspension, in the instance's turn (Reconciler.suspend). */
export interface SuspendSteps {
  /** Right before the server is stopped: false keeps it running (a client came after all). */
  beforeStop(i: InstanceRecord): Promise<boolean>;
  /** Once the container is gone: takes over its port. */
  onStopped(i: InstanceRecord): Promise<void>;
}

export type ImportProgress = (versionId: string, phase: string, elapsedMs: number) => void;

/** Turns dumps into template versions. */
export interface Importer {
  /** Starts an import of `template` (or returns the one running); resolves once the version is recorded. */
  start(template: string): Promise<{ version: TemplateVersion; done: Promise<TemplateVersion> }>;
  /** Stops the running import of `template` (its containers and datadir removed, latest untouched); null when none runs. */
  cancel(template: string, why?: string): Promise<TemplateVersion | null>;
  isRunning(versionId: string): boolean;
  runningTemplates(): string[];
  onProgress(listener: ImportProgress): () => void;
  /** Called with the template's name when one of its imports ends, ready or failed. */
  onFinished(listener: (template: string) => void): () => void;
  /** Waits for every running import. */
  drain(): Promise<void>;
}

/** Started instances of each template's latest version, handed out on create. */
export interface WarmPool {
  readonly enabled: boolean;
  /** Hands a warm instance of `template` to the caller (status provisioning until the reconciler's handover), or null. */
  claim(req: { owner: OwnerKey; template: string; name: string; expiresAt: Date | null }): Promise<InstanceRecord | null>;
  /** Tops every template's pool up and retires warm clones of older versions. */
  refill(): Promise<void>;
  close(): void;
}

/** Claimed warm instances waiting for their handover, by instance id. */
export interface HandoverBook {
  put(id: string, h: Handover): void;
  has(id: string): boolean;
  /** The handover of `id` (once), or null when there is none (e.g. after a restart). */
  take(id: string): Handover | null;
  clear(): void;
}

/** What the reconciler needs to give a claimed warm instance its new password. */
export interface Handover {
  /** the password the warm server still has */
  previousPassword: string;
  /** an admin session opened while the instance was warm, if any */
  session: Promise<AdminSession> | null;
}

// Offered by the services (app/), used by http/, github/, the CLI and main.ts:

export interface CreateRequest {
  owner: OwnerKey;
  template: string;
  name?: string;
  /** lifetime in seconds; 0 for none; absent for the default of the owner's kind */
  ttlSeconds?: number;
  /**
   * An admin (true, the default for the controller's own callers) may ask for any lifetime, none
   * included; a repository's token only for up to MYAAS_MAX_TTL.
   */
  trusted?: boolean;
  /** the template version to clone (and reset to) instead of the latest */
  pinnedVersionId?: string;
}

export interface InstanceService {
  /** Get-or-create on (owner, template); provisioning goes on in the background. */
  create(req: CreateRequest): Promise<{ instance: InstanceRecord; created: boolean }>;
  /** AppError not_found when there is no such instance. */
  get(id: string): Promise<InstanceRecord>;
  /** Live instances (without the warm pool's unclaimed ones), optionally of one owner. */
  list(filter?: { owner?: OwnerKey }): Promise<InstanceRecord[]>;
  /** A page of live instances (never the warm pool's unclaimed ones), oldest first; `more` when others follow. */
  page(q: Omit<InstancePageQuery, 'excludeOwnerPrefix'>): Promise<{ items: InstanceRecord[]; more: boolean }>;
  /** Back to the latest (or pinned) version with the same port and password. */
  reset(id: string): Promise<InstanceRecord>;
  destroy(id: string): Promise<InstanceRecord>;
  /** The instance once ready, failed or destroyed, or as it is when `timeoutMs` runs out. */
  waitSettled(id: string, timeoutMs: number): Promise<InstanceRecord>;
  view(i: InstanceRecord): Promise<InstanceView>;

  /** Live instances of an owner, as views. */
  viewsOf(owner: OwnerKey): Promise<InstanceView[]>;
  /** Live pull-request instances of `repo`, as views. */
  pullRequestViews(repo: string): Promise<InstanceView[]>;
  /** Destroys every live instance of `owner`; answers how many it asked to destroy. */
  destroyOwner(owner: OwnerKey): Promise<number>;
  /** Resets every live instance of `owner`. */
  resetOwner(owner: OwnerKey): Promise<number>;
  /**
   * The owner was seen alive (a pull request's event or the resync): its instances' lifetime starts
   * again (MYAAS_GITHUB_PR_TTL), so a pull request whose "closed" was lost does not keep them forever.
   * With MYAAS_GITHUB_IDLE_TTL set, only a push does so (the pull request's instances expire after that
   * long without one).
   */
  refreshLifetime(owner: OwnerKey, sighting?: { push?: boolean }): Promise<void>;
  /** Lengthens the lifetime of every live instance of `owner` by `seconds` (from now, or from a later expiry). */
  extendOwner(owner: OwnerKey, seconds: number): Promise<number>;
  /** Protected instances never expire while their owner lives; `on` false lets them expire again. */
  protectOwner(owner: OwnerKey, on: boolean): Promise<number>;
  /** Called with the instance's view after every change of any instance. */
  onChange(listener: (view: InstanceView) => void): () => void;
  /**
   * What the instance's schema now is against its template version's (tables, columns, indexes, …), with
   * destructive changes flagged; kept with the instance, so the pull request's comment shows it too.
   */
  schemaDiff(id: string): Promise<SchemaDiffResult>;
}

export interface SchemaDiffResult {
  diff: SchemaDiff;
  /** one line, e.g. "2 columns added, 1 index added · ⚠️ 1 destructive change" */
  summary: string;
  /** the whole diff as Markdown (for a job summary or a comment) */
  markdown: string;
  at: Date;
}

export interface TemplateService {
  /** Templates with versions from the state DB plus dumps not imported yet, and the dump folder's problems. */
  list(): Promise<{ templates: TemplateSummary[]; problems: string[] }>;
  /** Starts an import; resolves with the recorded (importing) version. */
  startImport(template: string): Promise<TemplateVersion>;
  /** Cancels the running import of `template`; AppError not_found when none runs. */
  cancelImport(template: string): Promise<TemplateVersion>;
  /**
   * The engine of a template that exists: imported, importing, or with a dump (whose import this
   * starts: first use of a dump). AppError not_found otherwise.
   */
  engineFor(template: string): Promise<EngineName>;
}

/** The storage pool's free space against its reserve (app/disk.ts). */
export interface DiskGuard {
  /** AppError insufficient_storage (HTTP 507) naming `what` when free space is below the reserve. */
  assertRoom(what: string): Promise<void>;
  status(): Promise<PoolStatus>;
}

/** Remembers webhook deliveries so a redelivery is acknowledged but not acted on twice. */
/**
 * Webhook deliveries already acted on. A delivery is recorded only once handled, so one whose handling
 * failed, or was cut short by a crash, is acted on when GitHub delivers it again.
 */
export interface DeliveryLog {
  /** true when `deliveryId` was handled already */
  seen(deliveryId: string): Promise<boolean>;
  /** records `deliveryId` as handled */
  record(deliveryId: string): Promise<void>;
}

// The status page (http/status-page*.tsx) and the metrics' scrape-time gauges read through this
// (app/status.ts). Rows carry no passwords: the page cannot show what it is not given.

/** A template version as an admin sees it. */
export interface VersionStatusRow {
  id: string;
  status: VersionStatus;
  createdAt: Date;
  readyAt: Date | null;
  sizeBytes: number | null;
  error: string | null;
  /** what a running import is doing now, and for how long it has run */
  phase: string | null;
  elapsedMs: number | null;
  /** live instances on this version */
  instances: number;
}

export interface TemplateStatusRow {
  name: string;
  engine: EngineName;
  latest: string | null;
  /** when the latest version finished importing */
  dataAsOf: Date | null;
  sizeBytes: number | null;
  versions: VersionStatusRow[];
}

export interface InstanceStatusRow {
  id: string;
  name: string;
  /** the stored owner key text, and its parsed form (null when it is none of the known forms) */
  owner: string;
  ownerKey: OwnerKey | null;
  template: string;
  versionId: string | null;
  status: InstanceStatus;
  createdAt: Date;
  readyAt: Date | null;
  expiresAt: Date | null;
  error: string | null;
  /** resident memory of its container; null when not running or unknown */
  memoryBytes: number | null;
  /** apparent size of its data, and the bytes only its clone holds (written since the clone) */
  dataBytes: number | null;
  ownBytes: number | null;
}

export interface FailureRow {
  kind: 'instance' | 'version';
  id: string;
  template: string;
  /** the instance's name; null for a version */
  name: string | null;
  at: Date;
  error: string;
}

export interface StatusSnapshot {
  at: Date;
  storage: string;
  dataDir: string;
  pool: PoolUsage | null;
  templates: TemplateStatusRow[];
  /** dump folder problems (unreadable or misnamed files) */
  dumpProblems: string[];
  instances: InstanceStatusRow[];
  /** the warm pool: its target size per template, and its unclaimed instances by template */
  warmPool: { target: number; byTemplate: Array<{ template: string; ready: number; total: number }> };
  /** failed instances and versions with their errors, newest first */
  failures: FailureRow[];
}

export interface StatusService {
  /** Everything the status page shows; measures memory and disk (cached for a short while). */
  snapshot(): Promise<StatusSnapshot>;
  /** The counts the metrics gauges need at each scrape: state DB and one statfs, nothing slow. */
  readings(): Promise<MetricsReadings>;
}
