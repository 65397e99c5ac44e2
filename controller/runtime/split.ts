// Two runtimes behind one: what runs on the controller's own host (imports: they write into its
// pool) and what a cluster places on its nodes (instances: Swarm services). Work is routed by its
// labels when it starts; afterwards by its id (a Swarm service id is 25 characters of [a-z0-9], a
// container id 64 hex digits), or, for a name, by asking both.
import type { ContainerInfo, Runtime, RuntimeEvent } from './runtime.js';

export interface SplitRuntimeOptions {
  local: Runtime;
  cluster: Runtime;
  /** true for work the cluster runs (decided from the labels it starts with) */
  onCluster(labels: Record<string, string>): boolean;
}

const CONTAINER_ID = /^[0-9a-f]{64}$/;
/** Docker's label on a Swarm task's container. */
const SWARM_TASK = 'com.docker.swarm.task.id';
/**
 * A controller on a Swarm node (deploy/stack.yaml) shares that node's engine with the tasks of its
 * instance services, which carry the services' labels: those are the cluster's, known through their
 * services. Seen as this host's containers, the sweep took them for orphans and removed them.
 */
const ownedHere = (labels: Record<string, string>) => !(SWARM_TASK in labels);
const SERVICE_ID = /^[0-9a-z]{25}$/;

export function createSplitRuntime(opts: SplitRuntimeOptions): Runtime {
  const { local, cluster } = opts;
  /** The runtime an id belongs to, or null when only asking both tells (a name, a short id). */
  const owner = (id: string): Runtime | null => (CONTAINER_ID.test(id) ? local : SERVICE_ID.test(id) ? cluster : null);
  async function either<T>(id: string, fn: (rt: Runtime) => Promise<T | null>): Promise<T | null> {
    const rt = owner(id);
    if (rt) return fn(rt);
    return (await fn(cluster)) ?? fn(local);
  }
  const pick = async (id: string): Promise<Runtime> => owner(id) ?? ((await cluster.inspect(id)) ? cluster : local);

  return {
    async ping() {
      await local.ping();
      await cluster.ping();
    },
    // Images are needed where work runs: imports on this host, instances on the nodes (the cluster
    // runtime asks its manager; placing a task on a node without the image fails with the reason).
    imageExists: async (image) => (await local.imageExists(image)) && (await cluster.imageExists(image)),
    start: (spec) => (opts.onCluster(spec.labels) ? cluster.start(spec) : local.start(spec)),
    exec: async (id, cmd, o) => (await pick(id)).exec(id, cmd, o),
    stop: async (id, o) => (await pick(id)).stop(id, o),
    async remove(id) {
      const rt = owner(id);
      if (rt) return rt.remove(id);
      await cluster.remove(id);
      await local.remove(id);
    },
    async removeAll(labels) {
      const here = (await local.list(labels)).filter((c) => ownedHere(c.labels));
      for (const c of here) await local.remove(c.id);
      return (await cluster.removeAll(labels)) + here.length;
    },
    list: async (labels): Promise<ContainerInfo[]> => [...(await cluster.list(labels)), ...(await local.list(labels)).filter((c) => ownedHere(c.labels))],
    inspect: (id) => either(id, (rt) => rt.inspect(id)),
    watch(labels, onEvent: (e: RuntimeEvent) => void) {
      const stops = [cluster.watch(labels, onEvent), local.watch(labels, (e) => ownedHere(e.labels) && onEvent(e))];
      return () => stops.forEach((s) => s());
    },
    memoryUsage: (id) => either(id, (rt) => rt.memoryUsage(id)),
    logs: async (id, tail) => (await pick(id)).logs(id, tail),
  };
}
