// What runs database servers: containers. Docker through dockerode implements it (docker.ts).

export interface Bind {
  host: string;
  container: string;
  readOnly?: boolean;
}

/** A volume made on whichever host the container lands on, by a volume driver (myaas: a clone). */
export interface VolumeMount {
  name: string;
  container: string;
  driver: string;
  options: Record<string, string>;
  readOnly?: boolean;
}

/** Where a container runs, when the runtime spreads them over several hosts (Swarm); null on one host. */
export interface NodeRef {
  hostname: string;
  /** where its published ports are: the node's address */
  addr: string;
}

export interface ContainerSpec {
  name: string;
  image: string;
  cmd: string[];
  /** uid:gid the process runs as; the image's entrypoint is never used */
  user: string;
  env?: string[];
  labels: Record<string, string>;
  binds: Bind[];
  /** volumes a volume driver makes where the container runs (e.g. the myaas driver: a clone of a template version) */
  volumes?: VolumeMount[];
  /** placement on a cluster (Swarm constraints on node labels, e.g. `node.labels.x==y`); one host ignores them */
  constraints?: string[];
  /** memory a cluster sets aside on the node it places the container on (it places by reservations) */
  reserveMemoryBytes?: number;
  /**
   * `bridge` (default): its own network namespace on `dockerNetwork` (Docker's default bridge when
   * absent); `host`: the host's network (no namespace, no published port); `none`: loopback only.
   */
  network?: 'bridge' | 'host' | 'none';
  /** the Docker network a bridge-mode container joins */
  dockerNetwork?: string;
  /** holds the process in: see Confinement */
  confine?: Confinement;
  /** container port to publish; hostPort 0 or absent lets Docker choose (bridge only) */
  publish?: { containerPort: number; hostPort?: number; hostIp?: string };
  memoryBytes?: number;
  nanoCpus?: number;
  shmBytes?: number;
  /**
   * Files handed to the container as a cluster's secrets (Swarm secrets: kept encrypted by the
   * managers, given only to the nodes that run the task, in memory there). A cluster runtime only:
   * one host bind-mounts its own files, and the Docker runtime refuses these.
   */
  secretFiles?: SecretFile[];
}

export interface SecretFile {
  /** absolute path in the container */
  target: string;
  data: string;
  /** owner (numeric) and mode of the file in the container */
  uid: string;
  gid: string;
  mode: number;
}

/**
 * What a database server (or whoever it lets run programs, e.g. PostgreSQL's COPY … FROM PROGRAM)
 * may do in its container: no capabilities at all, no gaining privileges through set-uid programs,
 * a read-only root filesystem with small tmpfs mounts where the server writes, and a cap on processes.
 */
export interface Confinement {
  /** mount point → tmpfs options, e.g. { '/tmp': 'size=64m' } */
  tmpfs: Record<string, string>;
  pidsLimit: number;
}

export interface ContainerInfo {
  id: string;
  name: string;
  labels: Record<string, string>;
  running: boolean;
  /** host port the published container port is bound to, when running */
  hostPort: number | null;
  exitCode: number | null;
  /** the kernel killed it for using more memory than its limit (known from inspect, not from lists) */
  oomKilled: boolean;
  /** where it runs, on a cluster runtime (null on one host, or while it is not placed) */
  node?: NodeRef | null;
}

/** Something happened to a container, as the engine reports it as it happens. */
export interface RuntimeEvent {
  /** died: its process ended; oom: the kernel killed it for memory; removed; started; resynced: the
   *  event stream was interrupted (e.g. the engine restarted), so anything may have happened meanwhile */
  kind: 'died' | 'oom' | 'removed' | 'started' | 'resynced';
  containerId: string | null;
  labels: Record<string, string>;
}

export interface ExecOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface Runtime {
  /** Throws AppError('docker_unavailable') with what to do when the engine does not answer. */
  ping(): Promise<void>;
  imageExists(image: string): Promise<boolean>;
  /** Creates and starts; returns the container id, the published host port (if any) and, on a cluster, its node. */
  start(spec: ContainerSpec): Promise<{ id: string; hostPort: number | null; node?: NodeRef | null }>;
  exec(id: string, cmd: string[], opts?: { user?: string; env?: string[] }): Promise<ExecOutput>;
  /** Sends `signal` (default SIGTERM), waits up to timeoutSec for exit; returns the exit code. */
  stop(id: string, opts?: { signal?: string; timeoutSec?: number }): Promise<number | null>;
  /** Force-removes; missing is not an error. */
  remove(id: string): Promise<void>;
  /** Force-removes every container whose labels include all of `labels`; answers how many. */
  removeAll(labels: Record<string, string>): Promise<number>;
  /** Containers whose labels include all of `labels`. */
  list(labels: Record<string, string>): Promise<ContainerInfo[]>;
  inspect(id: string): Promise<ContainerInfo | null>;
  /**
   * Follows the engine's events for containers whose labels include all of `labels`, reconnecting
   * when the stream breaks. Returns a function that stops following.
   */
  watch(labels: Record<string, string>, onEvent: (e: RuntimeEvent) => void): () => void;
  /** Resident memory of a running container, in bytes. */
  memoryUsage(id: string): Promise<number | null>;
  /** Last lines of the container's output, for error messages. */
  logs(id: string, tail?: number): Promise<string>;
}
