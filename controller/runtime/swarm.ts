// The runtime over a Docker Swarm: an instance is a service of one replica, which Swarm places on a
// node (constraints on node labels, reservations), starts, restarts and reports. Its datadir is a
// volume the node's `myaas` volume driver clones from the template version on that node's pool, and
// its port is published on that node (host mode: no routing mesh). The manager answers for services
// and tasks; what Swarm does only on a node (exec, memory, removing a node's volumes) goes to that
// node's own Docker engine, when `nodeHost` says how to reach it.
// A service whose task runs is held on its node (a server Swarm restarts keeps its volume) until
// that node is lost.
import Docker from 'dockerode';
import { AppError, isAppError } from '../domain/errors.js';
import { demuxBuffer, endpoint } from './docker-map.js';
import type { Runtime } from './runtime.js';
import {
  currentTask, FINAL_STATES, hostPortOf, placementFix, serviceSpec, toInfo, toNode,
  type SwarmContainerInfo, type SwarmNode, type SwarmSpec, type SwarmTask,
} from './swarm-map.js';
import { createImagePinner, createNodeAccess } from './swarm-node.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import type { SecretFile } from './runtime.js';

export type { SwarmContainerInfo, SwarmNode, SwarmSpec, VolumeMount } from './swarm-map.js';

export interface SwarmRuntimeOptions {
  /** a manager's Docker endpoint, as DOCKER_HOST; null: the local socket */
  managerHost: string | null;
  /** a node's own Docker endpoint (DOCKER_HOST form), or null when it cannot be reached from here */
  nodeHost?: (node: SwarmNode) => string | null;
  /** how long start() waits for the task to run; default 60 s */
  startTimeoutMs?: number;
  /** how long start() lets a task wait for a node that can take it; default 5 s */
  unplaceableMs?: number;
}

export interface SwarmRuntime extends Runtime {
  start(spec: SwarmSpec): Promise<{ id: string; hostPort: number | null; node: SwarmNode | null }>;
  inspect(id: string): Promise<SwarmContainerInfo | null>;
  list(labels: Record<string, string>): Promise<SwarmContainerInfo[]>;
  /** Scales a service created with `replicas: 0` to one and waits for it as start() does. */
  scaleUp(id: string): Promise<{ id: string; hostPort: number | null; node: SwarmNode | null }>;
  nodes(): Promise<SwarmNode[]>;
  /** Adds or replaces labels on a node (placement reads them), keeping its others. */
  labelNode(nodeId: string, labels: Record<string, string>): Promise<void>;
  /** Removes labels from a node, keeping its others. */
  unlabelNode(nodeId: string, keys: string[]): Promise<void>;
  /** On every ready node it reaches: removes volumes with `labels` that no service with `labels` mounts. */
  pruneVolumes(labels: Record<string, string>): Promise<string[]>;
}

/** How often watch() compares the services' tasks. */
const WATCH_MS = 2000;
const POLL_MS = 20;

const statusOf = (e: unknown) => (e as { statusCode?: number } | null)?.statusCode;
const messageOf = (e: unknown) => {
  const json = (e as { json?: { message?: unknown } } | null)?.json;
  return json && typeof json.message === 'string' ? json.message : e instanceof Error ? e.message : String(e);
};

export function createSwarmRuntime(opts: SwarmRuntimeOptions): SwarmRuntime {
  const { options, where } = endpoint(opts.managerHost);
  const docker = new Docker(options);
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  const unplaceableMs = opts.unplaceableMs ?? 5_000;
  const nodes = createNodeAccess(opts.nodeHost);
  const pinImage = createImagePinner(docker);

  function fail(e: unknown, doing: string): never {
    if (isAppError(e)) throw e;
    const code = (e as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && ['ECONNREFUSED', 'ENOENT', 'EACCES', 'EHOSTUNREACH'].includes(code)) {
      throw new AppError('docker_unavailable', `the Swarm manager at ${where} does not answer (${code}): start it or point the runtime at another manager`);
    }
    throw new AppError('internal', `Swarm failed while ${doing}: ${messageOf(e)}`);
  }

  async function nodeOf(id: string | undefined): Promise<SwarmNode | null> {
    if (!id) return null;
    try {
      return toNode(await docker.getNode(id).inspect());
    } catch (e) {
      if (statusOf(e) === 404) return null;
      fail(e, `inspecting node ${id}`);
    }
  }

  async function tasksOf(serviceIds: string[]): Promise<SwarmTask[]> {
    if (!serviceIds.length) return [];
    try {
      return (await docker.listTasks({ filters: { service: serviceIds } })) as SwarmTask[];
    } catch (e) {
      fail(e, 'listing tasks');
    }
  }

  async function serviceRaw(id: string): Promise<any | null> {
    try {
      return await docker.getService(id).inspect();
    } catch (e) {
      if (statusOf(e) === 404) return null;
      fail(e, `inspecting service ${id}`);
    }
  }

  /** The runtime of the node that runs the service's task now, and the task's container id. */
  async function onNode(id: string): Promise<{ rt: Runtime; containerId: string }> {
    const task = currentTask(await tasksOf([id]));
    const containerId = task?.Status.State === 'running' ? task.Status.ContainerStatus?.ContainerID : undefined;
    if (!task || !containerId) throw new AppError('conflict', `service ${id} has no running task: start it (or wait for Swarm to place it) first`);
    const node = await nodeOf(task.NodeID);
    const rt = node && nodes.runtime(node);
    if (!rt) {
      throw new AppError('docker_unavailable', `node ${node?.hostname ?? task.NodeID} runs service ${id} but its Docker engine cannot be reached from here: configure its endpoint`);
    }
    return { rt, containerId };
  }

  /** Waits until the service's task runs (and publishes its port); a task Swarm gives up on fails the wait. */
  async function waitRunning(id: string, wantsPort: boolean): Promise<{ id: string; hostPort: number | null; node: SwarmNode | null }> {
    const started = Date.now();
    const deadline = started + startTimeoutMs;
    for (;;) {
      const tasks = await tasksOf([id]);
      const running = tasks.find((t) => t.Status.State === 'running' && (!wantsPort || hostPortOf(t) !== null));
      if (running) return { id, hostPort: hostPortOf(running), node: await nodeOf(running.NodeID) };
      // A task that failed or was rejected (e.g. the volume driver refused): Swarm would retry
      // forever with restart policy `any`; the caller wants the reason now.
      const dead = tasks.find((t) => t.Status.State === 'failed' || t.Status.State === 'rejected');
      // A task no node can take (no room, no node with the constraint's label or the volume plugin)
      // waits for the cluster to change; the reconciler would rather know and place it elsewhere.
      const stuck = tasks.find((t) => t.Status.State === 'pending' && /no suitable node/i.test(t.Status.Err ?? ''));
      if (stuck && Date.now() - started > unplaceableMs) {
        throw new AppError('conflict', `service ${id} cannot be placed: ${stuck.Status.Err}; add room or nodes, or fix the constraints`);
      }
      if (dead) {
        const node = await nodeOf(dead.NodeID).catch(() => null);
        throw new AppError(
          'internal',
          `service ${id}'s task ${dead.Status.State} on ${node?.hostname ?? 'its node'}: ${dead.Status.Err ?? dead.Status.Message ?? 'no reason given'}`,
        );
      }
      if (Date.now() > deadline) {
        const t = currentTask(tasks);
        throw new AppError('timeout', `service ${id} did not run within ${startTimeoutMs / 1000} s (task ${t?.Status.State ?? 'not yet created'}${t?.Status.Err ? `: ${t.Status.Err}` : ''}): check that a node has room, matches the constraints and has the image`);
      }
      await sleep(POLL_MS);
    }
  }

  async function setReplicas(id: string, replicas: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const s = await serviceRaw(id);
      if (!s) throw new AppError('not_found', `service ${id} does not exist`);
      try {
        await docker.getService(id).update({ _query: { version: s.Version.Index }, _body: { ...s.Spec, Mode: { Replicated: { Replicas: replicas } } } });
        return;
      } catch (e) {
        // Swarm itself updates a new service (e.g. its endpoint) right after creation: read it again.
        if (attempt < 5 && /out of sequence/i.test(messageOf(e))) continue;
        fail(e, `scaling service ${id} to ${replicas}`);
      }
    }
  }

  /** After the service is gone: its volumes go from each node that ran one of its tasks. */
  async function removeVolumes(spec: any, tasks: SwarmTask[], serviceId: string): Promise<void> {
    const names: string[] = (spec?.TaskTemplate?.ContainerSpec?.Mounts ?? [])
      .filter((m: any) => m.Type === 'volume' && m.VolumeOptions?.DriverConfig?.Name)
      .map((m: any) => m.Source);
    for (const nodeId of new Set(tasks.map((t) => t.NodeID).filter((n): n is string => !!n))) {
      const node = await nodeOf(nodeId).catch(() => null);
      if (node) await nodes.removeVolumes(node, serviceId, names);
    }
  }

  async function remove(id: string): Promise<void> {
    const s = await serviceRaw(id);
    if (!s) return;
    const tasks = await tasksOf([s.ID]);
    try {
      await docker.getService(s.ID).remove();
    } catch (e) {
      if (statusOf(e) !== 404) fail(e, `removing service ${id}`);
    }
    await removeVolumes(s.Spec, tasks, s.ID);
    await removeSecrets(s.Spec);
  }

  /**
   * The service's secret files go with it unless another service still uses them (Swarm refuses to
   * remove a secret in use): a replaced certificate's secrets leave with the last instance started
   * on it, and the current one's are made again at the next start.
   */
  async function removeSecrets(spec: any): Promise<void> {
    for (const ref of spec?.TaskTemplate?.ContainerSpec?.Secrets ?? []) {
      if (typeof ref?.SecretID !== 'string' || !/^myaas-[0-9a-f]{32}$/.test(ref.SecretName ?? '')) continue;
      await docker.getSecret(ref.SecretID).remove().catch(() => undefined);
    }
  }

  /**
   * The Swarm secret holding each file, made when missing. Named by a digest of its target and
   * content: a changed file (a renewed certificate) is a new secret, and a service keeps the one it
   * was made with. Nothing of the content is in the name or labels.
   */
  async function secretsFor(files: SecretFile[]): Promise<NonNullable<SwarmSpec['secretRefs']>> {
    const refs: NonNullable<SwarmSpec['secretRefs']> = [];
    for (const f of files) {
      const name = `myaas-${createHash('sha256').update(f.target).update('\0').update(f.data).digest('hex').slice(0, 32)}`;
      const find = async () => ((await docker.listSecrets({ filters: { name: [name] } })) as Array<{ ID: string; Spec?: { Name?: string } }>).find((s) => s.Spec?.Name === name);
      let id = (await find().catch((e) => fail(e, 'listing secrets')))?.ID;
      if (!id) {
        try {
          id = ((await docker.createSecret({ Name: name, Labels: { 'myaas.role': 'secret-file' }, Data: Buffer.from(f.data).toString('base64') })) as { id: string }).id;
        } catch (e) {
          // Another start made it a moment ago.
          if (statusOf(e) !== 409) fail(e, 'creating a secret');
          id = (await find())?.ID;
          if (!id) fail(e, 'creating a secret');
        }
      }
      refs.push({ id: id!, name, target: f.target, uid: f.uid, gid: f.gid, mode: f.mode });
    }
    return refs;
  }

  /** The services whose labels include all of `labels`. */
  async function servicesWith(labels: Record<string, string>): Promise<any[]> {
    try {
      return await docker.listServices({ filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) } });
    } catch (e) {
      fail(e, 'listing services');
    }
  }

  /** The services with `labels`, each with its current task and what that says. */
  async function snapshot(labels: Record<string, string>) {
    const services = await servicesWith(labels);
    const tasks = await tasksOf(services.map((s) => s.ID));
    const nodes = new Map((await listNodes()).map((n) => [n.id, n]));
    return services.map((service) => {
      const task = currentTask(tasks.filter((x) => x.ServiceID === service.ID));
      return { service, task, nodes, info: toInfo(service, task, (task?.NodeID && nodes.get(task.NodeID)) || null) };
    });
  }

  /** Holds a placed service on its node, or lets it go when that node is lost (see placementFix). */
  async function keepPlaced(service: any, task: SwarmTask | undefined, nodes: Map<string, SwarmNode>): Promise<void> {
    const constraints: string[] = service.Spec?.TaskTemplate?.Placement?.Constraints ?? [];
    const fixed = placementFix(constraints, task, nodes);
    if (!fixed) return;
    const spec = service.Spec;
    await docker.getService(service.ID).update({
      _query: { version: service.Version.Index },
      _body: { ...spec, TaskTemplate: { ...spec.TaskTemplate, Placement: { ...spec.TaskTemplate.Placement, Constraints: fixed } } },
    });
  }

  async function listNodes(): Promise<SwarmNode[]> {
    try {
      return ((await docker.listNodes()) as any[]).map(toNode);
    } catch (e) {
      fail(e, 'listing nodes');
    }
  }

  return {
    async ping() {
      let info: any;
      try {
        info = await docker.info();
      } catch (e) {
        fail(e, 'reaching the manager');
      }
      if (info?.Swarm?.LocalNodeState !== 'active' || !info?.Swarm?.ControlAvailable) {
        throw new AppError('docker_unavailable', `the Docker engine at ${where} is not a Swarm manager: point the runtime at a manager (docker node ls there lists the nodes)`);
      }
    },

    async imageExists(image) {
      // Asked of the manager only: every node needs the image, which placement does not check.
      try {
        await docker.getImage(image).inspect();
        return true;
      } catch (e) {
        if (statusOf(e) === 404) return false;
        fail(e, `looking up image ${image}`);
      }
    },

    async start(spec) {
      let id: string;
      const secretRefs = spec.secretFiles?.length ? await secretsFor(spec.secretFiles) : undefined;
      try {
        id = (await docker.createService(serviceSpec({ ...spec, secretRefs, image: await pinImage(spec.image).catch((e) => fail(e, `looking up image ${spec.image}`)) }))).id;
      } catch (e) {
        if (statusOf(e) === 409) {
          throw new AppError('conflict', `a service named ${spec.name} already exists: remove it (docker service rm ${spec.name}) or wait for the reconciler to clean it up`);
        }
        fail(e, `creating service ${spec.name}`);
      }
      if ((spec.replicas ?? 1) === 0) return { id, hostPort: null, node: null };
      try {
        return await waitRunning(id, !!spec.publish && spec.network !== 'host');
      } catch (e) {
        await remove(id).catch(() => undefined);
        throw e;
      }
    },

    async scaleUp(id) {
      const s = await serviceRaw(id);
      if (!s) throw new AppError('not_found', `service ${id} does not exist`);
      await setReplicas(id, 1);
      return waitRunning(id, (s.Spec?.EndpointSpec?.Ports ?? []).length > 0);
    },

    async exec(id, cmd, o) {
      const { rt, containerId } = await onNode(id);
      return rt.exec(containerId, cmd, o);
    },

    async stop(id, o = {}) {
      // Swarm stops a task with the service's StopSignal and grace period: scale to zero and wait.
      await setReplicas(id, 0);
      const deadline = Date.now() + Math.max(1, o.timeoutSec ?? 10) * 1000 + 30_000;
      for (;;) {
        const tasks = await tasksOf([id]);
        if (tasks.every((t) => FINAL_STATES.has(t.Status.State))) return currentTask(tasks)?.Status.ContainerStatus?.ExitCode ?? null;
        if (Date.now() > deadline) throw new AppError('timeout', `service ${id} did not stop: check its node's Docker engine`);
        await sleep(POLL_MS);
      }
    },

    remove,

    async removeAll(labels) {
      const found = await this.list(labels);
      for (const c of found) await remove(c.id);
      return found.length;
    },

    /**
     * Swarm's own event stream reports services and nodes, not the tasks' containers (those are on each
     * node's engine): so the services' tasks are compared every few seconds, and changes reported.
     * The same round holds each placed service on its node, and lets go of those whose node is lost.
     */
    watch(labels, onEvent) {
      let stopped = false;
      // Per service: whether its task runs, and on which node.
      const seen = new Map<string, { running: boolean; node: string | null }>();
      void (async () => {
        while (!stopped) {
          try {
            const all = await snapshot(labels);
            // A service being changed meanwhile (scaled, removed) refuses the update: the next round tries again.
            for (const x of all) await keepPlaced(x.service, x.task, x.nodes).catch(() => undefined);
            const now = all.map((x) => x.info);
            const ids = new Set(now.map((c) => c.id));
            for (const c of now) {
              const before = seen.get(c.id);
              const node = c.node?.id ?? null;
              // A task Swarm moved to another node (its node was lost) is a new server on a new clone:
              // the server the instance had died, whatever runs now.
              const moved = before?.running && c.running && before.node !== null && node !== null && before.node !== node;
              if ((before?.running && !c.running) || moved) onEvent({ kind: 'died', containerId: c.id, labels: c.labels });
              if (before && !before.running && c.running) onEvent({ kind: 'started', containerId: c.id, labels: c.labels });
              seen.set(c.id, { running: c.running, node });
            }
            for (const id of [...seen.keys()]) if (!ids.has(id)) seen.delete(id);
          } catch {
            // the manager does not answer: the next round tries again
          }
          await sleep(WATCH_MS);
        }
      })();
      return () => {
        stopped = true;
      };
    },

    async list(labels) {
      return (await snapshot(labels)).map((x) => x.info);
    },

    async inspect(id) {
      const s = await serviceRaw(id);
      if (!s) return null;
      const t = currentTask(await tasksOf([s.ID]));
      return toInfo(s, t, await nodeOf(t?.NodeID));
    },

    async memoryUsage(id) {
      const { rt, containerId } = await onNode(id);
      return rt.memoryUsage(containerId);
    },

    async logs(id, tail = 50) {
      try {
        const out: unknown = await docker.getService(id).logs({ stdout: true, stderr: true, tail, follow: false });
        return Buffer.isBuffer(out) ? demuxBuffer(out) : typeof out === 'string' ? out : '';
      } catch (e) {
        // Logs feed error messages; a service that is gone (or a node that is) simply has none.
        if (statusOf(e) === 404 || statusOf(e) === 503) return '';
        fail(e, `reading the output of service ${id}`);
      }
    },

    nodes: listNodes,

    async unlabelNode(nodeId, keys) {
      try {
        const n = await docker.getNode(nodeId).inspect();
        const labels = { ...(n.Spec?.Labels ?? {}) };
        for (const k of keys) delete labels[k];
        await docker.getNode(nodeId).update({ _query: { version: n.Version.Index }, _body: { ...n.Spec, Labels: labels } });
      } catch (e) {
        fail(e, `removing labels from node ${nodeId}`);
      }
    },

    async pruneVolumes(labels) {
      const services = await servicesWith(labels);
      const keep = new Set<string>(
        services.flatMap((s) => (s.Spec?.TaskTemplate?.ContainerSpec?.Mounts ?? []).filter((m: any) => m.Type === 'volume').map((m: any) => String(m.Source))),
      );
      const removed: string[] = [];
      for (const node of await listNodes()) {
        if (node.ready) removed.push(...(await nodes.pruneVolumes(node, labels, keep).catch(() => [])));
      }
      return removed;
    },

    async labelNode(nodeId, labels) {
      try {
        const n = await docker.getNode(nodeId).inspect();
        await docker.getNode(nodeId).update({ _query: { version: n.Version.Index }, _body: { ...n.Spec, Labels: { ...(n.Spec?.Labels ?? {}), ...labels } } });
      } catch (e) {
        fail(e, `labelling node ${nodeId}`);
      }
    },
  };
}
