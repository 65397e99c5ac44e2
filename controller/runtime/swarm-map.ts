// Pure translation between our runtime words and Swarm's service and task shapes (swarm.ts does the I/O).
import type Docker from 'dockerode';
import { AppError } from '../domain/errors.js';
import type { ContainerInfo, ContainerSpec } from './runtime.js';

/** A volume made on whichever node the task lands on, by a volume driver (e.g. myaas: a clone). */
export interface VolumeMount {
  name: string;
  container: string;
  driver: string;
  options: Record<string, string>;
  readOnly?: boolean;
}

/** A container spec plus what only a cluster has: volumes made where the task runs, and placement. */
export interface SwarmSpec extends ContainerSpec {
  volumes?: VolumeMount[];
  /** Swarm placement constraints, e.g. `node.labels.myaas.node==node2` */
  constraints?: string[];
  /** what the scheduler sets aside on a node for this task (it places by reservations, limits cap use) */
  reserveMemoryBytes?: number;
  reserveNanoCpus?: number;
  /** replicas to start with: 1, or 0 for a service created ahead of its owner and scaled up later */
  replicas?: 0 | 1;
  stopSignal?: string;
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

export interface SwarmNode {
  id: string;
  hostname: string;
  /** the address the node advertises: where its host-mode published ports are */
  addr: string;
  labels: Record<string, string>;
  ready: boolean;
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
        Mounts: [...binds, ...volumes, ...shm],
        StopSignal: spec.stopSignal,
      },
      Resources: {
        Limits: { MemoryBytes: spec.memoryBytes, NanoCPUs: spec.nanoCpus },
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

export function hostPortOf(task: SwarmTask | undefined): number | null {
  const p = task?.Status.PortStatus?.Ports?.find((x) => x.PublishMode === 'host' && x.PublishedPort);
  return p?.PublishedPort ?? null;
}

export function toNode(n: { ID: string; Description?: { Hostname?: string }; Status?: { Addr?: string; State?: string }; Spec?: { Labels?: Record<string, string> } }): SwarmNode {
  return {
    id: n.ID,
    hostname: n.Description?.Hostname ?? n.ID,
    addr: n.Status?.Addr ?? '',
    labels: n.Spec?.Labels ?? {},
    ready: n.Status?.State === 'ready',
  };
}

/** The task that speaks for a service now: a running one, else the newest. */
export function currentTask(tasks: SwarmTask[]): SwarmTask | undefined {
  const byNewest = [...tasks].sort((a, b) => (b.CreatedAt ?? '').localeCompare(a.CreatedAt ?? ''));
  return byNewest.find((t) => t.Status.State === 'running') ?? byNewest[0];
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
