// Pure translation between our runtime words and Swarm's service and task shapes (swarm.ts does the I/O).
import type Docker from 'dockerode';
import { AppError } from '../domain/errors.js';
import type { ContainerInfo, ContainerSpec, NodeRef } from './runtime.js';

export type { VolumeMount } from './runtime.js';

/** A container spec plus what only a Swarm service has. */
export interface SwarmSpec extends ContainerSpec {
  reserveNanoCpus?: number;
  /** replicas to start with: 1, or 0 for a service created ahead of its owner and scaled up later */
  replicas?: 0 | 1;
  stopSignal?: string;
  /** the Swarm secrets made for `secretFiles`, by target (swarm.ts makes them before the service) */
  secretRefs?: Array<{ id: string; name: string; target: string; uid: string; gid: string; mode: number }>;
}

/** The fields of a Swarm task we read (the API's Task object). */
export interface SwarmTask {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  DesiredState: string;
  CreatedAt?: string;
  Status: {
    State: string;
    Err?: string;
    Message?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
    PortStatus?: { Ports?: Array<{ TargetPort?: number; PublishedPort?: number; PublishMode?: string }> };
  };
}

export interface SwarmNode extends NodeRef {
  id: string;
  labels: Record<string, string>;
  ready: boolean;
  /** false when the node is drained or paused (it takes no new task); absent: active */
  schedulable?: boolean;
}

/** Where an instance's server runs in the cluster: the node and the published port there. */
export interface Placement {
  node: SwarmNode | null;
  hostPort: number | null;
}

/** ContainerInfo plus where in the cluster it is. */
export interface SwarmContainerInfo extends ContainerInfo {
  node: SwarmNode | null;
}

/** Task states after which a task will not run again (Swarm makes a new task instead). */
export const FINAL_STATES = new Set(['complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove']);

export function serviceSpec(spec: SwarmSpec): Docker.CreateServiceOptions {
  const binds: Docker.MountSettings[] = spec.binds.map((b) => ({ Type: 'bind', Source: b.host, Target: b.container, ReadOnly: b.readOnly ?? false }));
  const volumes: Docker.MountSettings[] = (spec.volumes ?? []).map((v) => ({
    Type: 'volume',
    Source: v.name,
    Target: v.container,
    ReadOnly: v.readOnly ?? false,
    VolumeOptions: { NoCopy: true, Labels: spec.labels, DriverConfig: { Name: v.driver, Options: v.options } },
  }));
  // Swarm has no --shm-size: a tmpfs at /dev/shm is the same thing.
  const shm: Docker.MountSettings[] = spec.shmBytes
    ? [{ Type: 'tmpfs', Source: '', Target: '/dev/shm', TmpfsOptions: { SizeBytes: spec.shmBytes, Mode: 0o1777 } }]
    : [];
  // Confinement as far as Swarm's API (1.41) carries it: no capabilities, read-only root, tmpfs where
  // the server writes, a cap on processes. It has no no-new-privileges for services (API 1.41); with
  // no capabilities and a non-root user, a set-uid program still gains none.
  const confine = spec.confine;
  const tmpfs: Docker.MountSettings[] = Object.entries(confine?.tmpfs ?? {}).map(([target, opts]) => ({
    Type: 'tmpfs', Source: '', Target: target, TmpfsOptions: tmpfsOptions(opts),
  }));
  if (spec.network === 'host' && spec.publish) {
    throw new AppError('bad_request', 'a Swarm instance on the host network publishes no port: drop `publish` or use the bridge network');
  }
  return {
    Name: spec.name,
    Labels: spec.labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: spec.image,
        // Command replaces the image's entrypoint (the engine images' would re-initialise the datadir).
        Command: spec.cmd,
        User: spec.user,
        Env: spec.env ?? [],
        Labels: spec.labels,
        Mounts: [...binds, ...volumes, ...shm, ...tmpfs],
        StopSignal: spec.stopSignal,
        ...(spec.secretRefs?.length
          ? { Secrets: spec.secretRefs.map((r) => ({ SecretID: r.id, SecretName: r.name, File: { Name: r.target, UID: r.uid, GID: r.gid, Mode: r.mode } })) }
          : {}),
        ...(confine ? { ReadOnly: true, CapabilityDrop: ['ALL'] } : {}),
      },
      Resources: {
        Limits: { MemoryBytes: spec.memoryBytes, NanoCPUs: spec.nanoCpus, ...(confine ? { Pids: confine.pidsLimit } : {}) },
        Reservations: { MemoryBytes: spec.reserveMemoryBytes, NanoCPUs: spec.reserveNanoCpus },
      },
      // `any`: a task that dies, or whose node is lost, is replaced (on a lost node: elsewhere, from
      // the template again, since the volume driver clones on the node the new task lands on).
      RestartPolicy: { Condition: 'any', Delay: 1_000_000_000, MaxAttempts: 0 },
      Placement: { Constraints: spec.constraints ?? [] },
      ...(spec.network === 'host' ? { Networks: [{ Target: 'host' }] } : {}),
    },
    Mode: { Replicated: { Replicas: spec.replicas ?? 1 } },
    // No routing mesh (it needs IPVS, and clients connect to the node anyway): DNS round robin, and
    // the port published on the node that runs the task.
    EndpointSpec: {
      Mode: 'dnsrr',
      Ports: spec.publish
        ? [{ Protocol: 'tcp', TargetPort: spec.publish.containerPort, PublishedPort: spec.publish.hostPort || undefined, PublishMode: 'host' }]
        : [],
    },
  };
}

/** `rw,noexec,mode=1777,size=64m`-style tmpfs options → Swarm's (size and mode are all it takes). */
export function tmpfsOptions(opts: string): { SizeBytes: number; Mode: number } {
  // Swarm's defaults when a size or mode is not given: unlimited, 1777.
  const out = { SizeBytes: 0, Mode: 0o1777 };
  for (const part of opts.split(',')) {
    const [k, v] = part.split('=');
    if (k === 'mode' && v && /^[0-7]{3,4}$/.test(v)) out.Mode = parseInt(v, 8);
    if (k === 'size' && v) {
      const m = /^(\d+)([kmg]?)$/i.exec(v);
      if (!m) throw new AppError('bad_request', `tmpfs size ${JSON.stringify(v)} is not a number of bytes (k, m or g may follow)`);
      out.SizeBytes = Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2]!.toLowerCase()]!;
    }
  }
  return out;
}

export function hostPortOf(task: SwarmTask | undefined): number | null {
  const p = task?.Status.PortStatus?.Ports?.find((x) => x.PublishMode === 'host' && x.PublishedPort);
  return p?.PublishedPort ?? null;
}

export function toNode(n: { ID: string; Description?: { Hostname?: string }; Status?: { Addr?: string; State?: string }; Spec?: { Labels?: Record<string, string>; Availability?: string } }): SwarmNode {
  return {
    id: n.ID,
    hostname: n.Description?.Hostname ?? n.ID,
    addr: n.Status?.Addr ?? '',
    labels: n.Spec?.Labels ?? {},
    ready: n.Status?.State === 'ready',
    schedulable: (n.Spec?.Availability ?? 'active') === 'active',
  };
}

/** The constraint that holds a placed service on its node. */
const PIN = /^node\.id\s*==\s*(\S+)$/;

/** The node a service is held on, if any. */
export function pinnedNode(constraints: string[]): string | null {
  for (const c of constraints) {
    const m = PIN.exec(c);
    if (m) return m[1]!;
  }
  return null;
}

/**
 * A service's constraints as they should be now, or null when they are right. A service whose task
 * runs on a healthy node is held there, so that Swarm starts a server that dies again on that node,
 * on its own volume (its data), not on another node with a fresh clone; Swarm does not restart a task
 * when only the constraints change and its node still meets them. A service held on a node that is
 * down, drained or gone is let go, so that Swarm places it elsewhere.
 */
export function placementFix(constraints: string[], task: SwarmTask | undefined, nodes: Map<string, SwarmNode>): string[] | null {
  const healthy = (n: SwarmNode | undefined) => !!n && n.ready && n.schedulable !== false;
  const pinned = pinnedNode(constraints);
  if (pinned) return healthy(nodes.get(pinned)) ? null : constraints.filter((c) => !PIN.test(c));
  if (task?.DesiredState === 'running' && task.Status.State === 'running' && task.NodeID && healthy(nodes.get(task.NodeID))) {
    return [...constraints, `node.id==${task.NodeID}`];
  }
  return null;
}

/**
 * The task that speaks for a service now: a running one that Swarm wants running, else the newest it
 * wants running, else the newest. A task on a lost node keeps its last reported state (running) while
 * Swarm, wanting it shut down, runs its replacement elsewhere.
 */
export function currentTask(tasks: SwarmTask[]): SwarmTask | undefined {
  const byNewest = [...tasks].sort((a, b) => (b.CreatedAt ?? '').localeCompare(a.CreatedAt ?? ''));
  const wanted = byNewest.filter((t) => t.DesiredState === 'running');
  return wanted.find((t) => t.Status.State === 'running') ?? wanted[0] ?? byNewest[0];
}

export function toInfo(service: { ID: string; Spec?: { Name?: string; Labels?: Record<string, string> } }, task: SwarmTask | undefined, node: SwarmNode | null): SwarmContainerInfo {
  const running = task?.Status.State === 'running';
  const code = task?.Status.ContainerStatus?.ExitCode;
  return {
    id: service.ID,
    name: service.Spec?.Name ?? service.ID,
    labels: service.Spec?.Labels ?? {},
    running,
    hostPort: running ? hostPortOf(task) : null,
    exitCode: !running && task && FINAL_STATES.has(task.Status.State) && typeof code === 'number' ? code : null,
    // Swarm reports an OOM kill only in the task's message; the node's engine knows it for sure.
    oomKilled: /out of memory|OOM/i.test(task?.Status.Err ?? ''),
    node,
  };
}
