// The steps that bring one instance to `ready`: clone, container, password, authenticated probe.
// Each step removes what a previous (crashed or failed) attempt left, so repeating it is safe. Every
// step logs a begin/end pair at debug level on the instance's logger, with its duration.
import { AppError, messageOf } from '../domain/errors.js';
import { instanceLabels, instanceSelector } from '../domain/labels.js';
import type { Paths } from '../domain/layout.js';
import { tail } from '../domain/templates.js';
import type { InstanceRecord, ProvisionTimings, TemplateVersion } from '../domain/types.js';
import type { AdminSession, Clock, ContainerSpec, Engine, Engines, HostNet, Logger, Runtime, Storage } from '../app/ports.js';

export interface ProvisionDeps {
  storage: Storage;
  runtime: Runtime;
  engines: Engines;
  net: HostNet;
  paths: Paths;
  clock: Clock;
  /** label value that marks this controller's containers */
  home: string;
  memoryBytes: number;
  cpus: number;
  publishIp: string;
  /** bridge: own network namespace, port published by Docker; host: the server listens on the host itself */
  network: 'bridge' | 'host';
  probeHost: string;
  readyTimeoutMs: number;
  safety: InstanceSafety;
  /**
   * Runs just before the instance's container is started (and binds its port): a suspended instance's
   * wake listener lets go of the port here (jobs/suspender.ts).
   */
  beforeStart?: (id: string) => Promise<void>;
  /**
   * On a cluster runtime (Swarm): the clone is a volume that the volume driver of whichever node the
   * server lands on cuts from the template version there; nodes holding the version carry the label
   * `clusterVersionLabel(version)`. null or absent: one host, the clone is made here.
   */
  cluster?: { volumeDriver: string; reserveMemoryBytes: number } | null;
}

/** The node label that says a node's pool holds a template version completely (shipped, verified). */
export const clusterVersionLabel = (versionId: string) => `myaas.has.${versionId}`;

/** The node label `true` while a node's pool is below the disk reserve: no new instance goes there. */
export const POOL_FULL_LABEL = 'myaas.pool.full';

/** How an instance's container and clone are held in (see docs/security-host.md). */
export interface InstanceSafety {
  /** the isolated Docker network that bridge-mode instances join; null: Docker's default bridge */
  dockerNetwork: string | null;
  /** most processes (threads count) a server may run */
  pidsLimit: number;
  /** bytes a clone may write; 0: no limit (or the pool cannot enforce one) */
  diskLimitBytes: number;
  /** host folder with server.crt and server.key readable by an engine's user (`uid:gid`), or null: no TLS */
  tlsDir(engineUser: string): string | null;
  /** the certificate and key instances offer TLS with (PEM), for a cluster's nodes; null: no TLS */
  tlsPair?(): { cert: string; key: string } | null;
}

/** A cluster instance's volume (cut where it lands), the node labels it needs, what Swarm sets aside. */
function clusterPlacement(
  cluster: { volumeDriver: string; reserveMemoryBytes: number },
  instanceId: string,
  version: TemplateVersion,
  dataDir: string,
  now: number,
  diskLimitBytes: number,
): Pick<ContainerSpec, 'volumes' | 'constraints' | 'reserveMemoryBytes'> {
  // The node's volume driver puts the clone under the disk limit (a quota on its pool) before it exists.
  const options: Record<string, string> = { template: version.template, version: version.id, ...(diskLimitBytes > 0 ? { size: String(diskLimitBytes) } : {}) };
  return {
    // A new name per attempt: a lost node may still hold an earlier attempt's volume of this instance.
    volumes: [{ name: `myaas-${instanceId}-${now.toString(36)}`, container: dataDir, driver: cluster.volumeDriver, options }],
    // A node without the label at all matches `!=`: only a pool known to be short is avoided.
    constraints: [`node.labels.${clusterVersionLabel(version.id)}==true`, `node.labels.${POOL_FULL_LABEL}!=true`],
    reserveMemoryBytes: cluster.reserveMemoryBytes,
  };
}

/** Waits for Swarm to run an instance's service again (it restarts a stopped task); null: no such service. */
export async function runAgain(deps: Pick<ProvisionDeps, 'runtime' | 'clock' | 'readyTimeoutMs'>, serviceId: string) {
  const deadline = deps.clock.now() + deps.readyTimeoutMs;
  for (;;) {
    const c = await deps.runtime.inspect(serviceId);
    if (!c) return null;
    if (c.running && c.hostPort && c.node) return { id: c.id, hostPort: c.hostPort, node: c.node };
    if (deps.clock.now() > deadline) return null;
    await deps.clock.sleep(200);
  }
}

/** Where the TLS folder is mounted in a container. */
export const TLS_MOUNT = '/etc/myaas/tls';

/** The container holds its server in: read-only root, tmpfs where the engine writes, no capabilities. */
export function confinement(engine: Engine, memoryBytes: number, pidsLimit: number): ContainerSpec['confine'] {
  // tmpfs pages count against the container's memory limit, so a full /tmp hurts only this container.
  const size = Math.max(16 << 20, Math.floor(memoryBytes / 4));
  const tmpfs = Object.fromEntries(engine.scratchDirs.map((d) => [d, `rw,noexec,nosuid,nodev,mode=1777,size=${size}`]));
  return { tmpfs, pidsLimit };
}

/** Runs one named step, logging "<doing>…" and then "<done>" with its duration. */
export async function step<T>(log: Logger, clock: Clock, doing: string, done: string, fn: () => Promise<T>): Promise<T> {
  const t0 = clock.now();
  log.debug(`${doing}…`);
  const value = await fn();
  log.debug({ ms: clock.now() - t0 }, done);
  return value;
}

/** Removes the instance's containers (by label, so a crashed attempt's are found too) and its clone. */
export async function teardown(deps: Pick<ProvisionDeps, 'runtime' | 'storage' | 'paths' | 'home'>, id: string): Promise<void> {
  await deps.runtime.removeAll(instanceSelector(deps.home, id));
  await deps.storage.remove(deps.paths.instance(id));
}

/**
 * Gives the server its owner's password and proves it with a real query. Through an already open
 * admin session when there is one; otherwise logging in with `current`, the password it has now.
 */
export async function secure(
  clock: Clock,
  engine: Engine,
  conn: { host: string; port: number; database: string },
  passwords: { current: string; next: string },
  deadline: number,
  session?: AdminSession | null,
): Promise<{ rotateMs: number; probeMs: number }> {
  const t0 = clock.now();
  const admin = { ...conn, user: engine.adminUser };
  if (session) {
    try {
      await session.setPassword(passwords.next);
    } finally {
      await session.close();
    }
  } else {
    await engine.rotatePassword({ ...admin, password: passwords.current }, passwords.next, deadline);
  }
  const t1 = clock.now();
  await engine.probe({ ...admin, password: passwords.next }, deadline);
  return { rotateMs: t1 - t0, probeMs: clock.now() - t1 };
}

export interface Provisioned {
  port: number;
  /** the node's address on a cluster runtime; null on one host */
  host: string | null;
  containerId: string;
  timings: ProvisionTimings;
}

/**
 * Clones `version` (or, with keepClone, serves the instance's existing clone again), starts its
 * server, gives it the instance's password and probes it. On failure, removes what it made.
 */
export async function provision(
  deps: ProvisionDeps,
  inst: InstanceRecord,
  version: TemplateVersion,
  opts: { keepClone: boolean; log: Logger; onContainer: (containerId: string, port: number, host: string | null) => Promise<void> },
): Promise<Provisioned> {
  const { clock } = deps;
  const { log } = opts;
  const engine = deps.engines(version.engine);
  const t0 = clock.now();
  const clone = deps.paths.instance(inst.id);
  const cluster = deps.cluster ?? null;
  if (cluster) {
    // The clone is the service's volume, on its node: removing the service removes it there.
    if (!opts.keepClone) await step(log, clock, 'removing a previous attempt', 'previous attempt removed', () => deps.runtime.removeAll(instanceSelector(deps.home, inst.id)));
  } else if (opts.keepClone) {
    // The container vanished but the data is there: serve the same clone again.
    await deps.runtime.removeAll(instanceSelector(deps.home, inst.id));
  } else {
    // A previous attempt always leaves its clone (made before the container, removed after it), so a
    // missing clone means there is nothing to tear down and the Docker round trip is saved.
    await step(log, clock, 'cloning', 'cloned', async () => {
      if (await deps.storage.exists(clone)) await teardown(deps, inst.id);
      await deps.storage.clone(deps.paths.version(version.template, version.id), clone);
    });
  }
  const t1 = clock.now();
  let containerId: string | null = null;
  try {
    // The limit is in place before the server starts. Set while the container started, its quota
    // commands (a few ms each) held up Docker's start of the container by ~100 ms (bench: the start
    // phase 434 ms with them alongside, 333 ms without, medians of 8 on a quiet machine).
    if (!cluster && !opts.keepClone && deps.safety.diskLimitBytes > 0) {
      await step(log, clock, 'limiting the clone', 'clone limited', () => deps.storage.limit(clone, deps.safety.diskLimitBytes));
    }
    const host = deps.network === 'host';
    // Host networking has no Docker-chosen port: the instance keeps its port, or gets a free one now.
    const listen = host ? { address: deps.publishIp, port: inst.port ?? (await deps.net.freePort(deps.publishIp)) } : undefined;
    // One host bind-mounts its TLS folder; a cluster's nodes get the files as secrets (below).
    const tlsDir = cluster ? null : deps.safety.tlsDir(engine.user);
    // On a cluster the certificate and key go to the node that runs the server as Swarm secrets,
    // at the same place a single host mounts them; the key owned by the engine's user, 0400.
    const tlsPair = cluster ? (deps.safety.tlsPair?.() ?? null) : null;
    const [uid = '0', gid = '0'] = engine.user.split(':');
    const secretFiles = tlsPair
      ? [
          { target: `${TLS_MOUNT}/server.crt`, data: tlsPair.cert, uid, gid, mode: 0o444 },
          { target: `${TLS_MOUNT}/server.key`, data: tlsPair.key, uid, gid, mode: 0o400 },
        ]
      : undefined;
    const spec: ContainerSpec = {
      name: `myaas-${inst.id}`,
      image: version.image,
      cmd: engine.serverCommand('instance', '/tmp', listen, tlsDir || tlsPair ? TLS_MOUNT : undefined),
      network: deps.network,
      dockerNetwork: host ? undefined : deps.safety.dockerNetwork ?? undefined,
      user: engine.user,
      env: [...engine.env],
      labels: instanceLabels(deps.home, inst, version),
      binds: cluster ? [] : [{ host: clone, container: engine.dataDir }, ...(tlsDir ? [{ host: tlsDir, container: TLS_MOUNT, readOnly: true }] : [])],
      ...(cluster ? clusterPlacement(cluster, inst.id, version, engine.dataDir, clock.now(), deps.safety.diskLimitBytes) : {}),
      publish: { containerPort: engine.port, hostPort: inst.port ?? 0, hostIp: deps.publishIp },
      memoryBytes: deps.memoryBytes,
      nanoCpus: Math.round(deps.cpus * 1e9),
      shmBytes: 128 * 1024 * 1024,
      ...(secretFiles ? { secretFiles } : {}),
      confine: confinement(engine, deps.memoryBytes, deps.safety.pidsLimit),
    };
    await deps.beforeStart?.(inst.id);
    const started = await step(log, clock, 'starting container', 'container started', async () => {
      // On a cluster, the server of a restart is the service Swarm runs again (on its node: same volume).
      const kept = cluster && opts.keepClone && inst.containerId ? await runAgain(deps, inst.containerId) : null;
      if (kept) return kept;
      if (cluster) await deps.runtime.removeAll(instanceSelector(deps.home, inst.id));
      return deps.runtime.start(spec).catch(async (e) => {
        // A container of this name outlived its clone (crash between the two removals): remove, retry once.
        if (!(e instanceof AppError && e.code === 'conflict' && /name/i.test(e.message))) throw e;
        await deps.runtime.remove(spec.name);
        return deps.runtime.start(spec);
      });
    });
    containerId = started.id;
    const port = listen ? listen.port : started.hostPort;
    if (!port) throw new AppError('internal', 'Docker published no host port for the instance');
    const nodeAddr = started.node?.addr || null;
    if (cluster && !nodeAddr) throw new AppError('internal', `the cluster did not say which node runs ${spec.name}`);
    await opts.onContainer(containerId, port, nodeAddr);
    const t2 = clock.now();
    const deadline = t0 + deps.readyTimeoutMs;
    const conn = { host: nodeAddr ?? deps.probeHost, port, database: version.database ?? '' };
    let secured: { rotateMs: number; probeMs: number };
    try {
      log.debug('securing and probing…');
      // A restarted clone already carries the instance's password, unless the change was lost in a crash.
      secured = opts.keepClone
        ? await secure(clock, engine, conn, { current: inst.password, next: inst.password }, deadline).catch(() =>
            secure(clock, engine, conn, { current: version.adminPassword, next: inst.password }, deadline),
          )
        : await secure(clock, engine, conn, { current: version.adminPassword, next: inst.password }, deadline);
      log.debug(secured, 'secured and probed');
    } catch (e) {
      // The server's own output goes to the controller's log, not into the error its owner (and a
      // pull request's comment) shows: it may quote data or settings.
      const info = await deps.runtime.inspect(containerId);
      if (info && !info.running) log.warn({ output: tail(await deps.runtime.logs(containerId, 15)) }, 'the server exited while starting');
      throw new AppError('timeout', `${messageOf(e)}${info && !info.running ? `; the server exited (exit code ${info.exitCode ?? '?'}): the controller's log has its output` : ''}`);
    }
    return {
      port,
      host: nodeAddr,
      containerId,
      timings: { cloneMs: t1 - t0, startMs: t2 - t1, rotateMs: secured.rotateMs, probeMs: secured.probeMs, totalMs: clock.now() - t0 },
    };
  } catch (e) {
    if (opts.keepClone) await deps.runtime.removeAll(instanceSelector(deps.home, inst.id)).catch(() => undefined);
    else await teardown(deps, inst.id).catch(() => undefined);
    throw e;
  }
}
