// Helpers of the Swarm runtime around nodes. What Swarm does not do through a manager is done on the
// node that runs a task: exec and memory (through that node's own runtime) and removing the node's
// volumes once a service is gone (Docker keeps named volumes; with the myaas driver each is a clone
// on that node's pool). And the image reference that lets a node start a task with what it has.
import Docker from 'dockerode';
import { AppError } from '../domain/errors.js';
import { createDockerRuntime } from './docker.js';
import { endpoint } from './docker-map.js';
import type { Runtime } from './runtime.js';
import type { SwarmNode } from './swarm-map.js';
import { setTimeout as sleep } from 'node:timers/promises';

const SERVICE_LABEL = 'com.docker.swarm.service.id';
const GONE_MS = 30_000;

export interface NodeAccess {
  /** The node's own runtime, or null when its engine cannot be reached from here. */
  runtime(node: SwarmNode): Runtime | null;
  /** Waits for the service's containers to leave the node, then removes the named volumes there. */
  removeVolumes(node: SwarmNode, serviceId: string, names: string[]): Promise<void>;
  /**
   * Removes the node's volumes that carry all of `labels`, are older than a minute and are not in
   * `keep` (a lost node's clones of instances made again elsewhere, once it is back); answers their names.
   */
  pruneVolumes(node: SwarmNode, labels: Record<string, string>, keep: Set<string>): Promise<string[]>;
}

/** A volume younger than this may belong to a service created after the services were listed. */
const PRUNE_AFTER_MS = 60_000;

export function createNodeAccess(nodeHost: ((node: SwarmNode) => string | null) | undefined): NodeAccess {
  const runtimes = new Map<string, Runtime>();
  const engines = new Map<string, Docker>();
  const engine = (host: string) => {
    let d = engines.get(host);
    if (!d) engines.set(host, (d = new Docker(endpoint(host).options)));
    return d;
  };
  return {
    runtime(node) {
      const host = nodeHost?.(node);
      if (!host) return null;
      let rt = runtimes.get(host);
      if (!rt) runtimes.set(host, (rt = createDockerRuntime({ dockerHost: host })));
      return rt;
    },

    async pruneVolumes(node, labels, keep) {
      const host = nodeHost?.(node);
      if (!host) return [];
      const d = engine(host);
      const listed = await d.listVolumes({ filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) } });
      const removed: string[] = [];
      for (const v of listed.Volumes ?? []) {
        const created = Date.parse((v as { CreatedAt?: string }).CreatedAt ?? '');
        if (keep.has(v.Name) || !(Date.now() - created > PRUNE_AFTER_MS)) continue;
        try {
          await d.getVolume(v.Name).remove();
          removed.push(v.Name);
        } catch {
          // In use (a container still holds it) or gone: the next sweep looks again.
        }
      }
      return removed;
    },

    async removeVolumes(node, serviceId, names) {
      const host = nodeHost?.(node);
      // An unreachable (e.g. lost) node keeps its clones until it is cleaned up on its return.
      if (!host || !names.length) return;
      const d = engine(host);
      const deadline = Date.now() + GONE_MS;
      const left = () => d.listContainers({ all: true, filters: { label: [`${SERVICE_LABEL}=${serviceId}`] } }).catch(() => []);
      while ((await left()).length > 0 && Date.now() < deadline) await sleep(20);
      const busyUntil = Date.now() + GONE_MS;
      for (const name of names) {
        for (;;) {
          try {
            await d.getVolume(name).remove();
            break;
          } catch (e) {
            const status = (e as { statusCode?: number } | null)?.statusCode;
            if (status === 404) break;
            const msg = e instanceof Error ? e.message : String(e);
            // Docker drops a killed container from its list before it has unmounted the container's
            // volumes (that happens when the exit is processed), so the volume is busy for a moment.
            if (/in use|mounted by/i.test(msg) && Date.now() < busyUntil) {
              await sleep(50);
              continue;
            }
            throw new AppError('internal', `removing volume ${name} on ${node.hostname} failed: ${msg}; remove it there (docker volume rm ${name})`);
          }
        }
      }
    },
  };
}

/**
 * A node's Swarm agent tries to pull a service's image by tag before every start, even when it has
 * it; with no registry in reach that costs ~20 s. By digest (or by id, for an image that was never
 * in a registry: loaded on every node) it starts at once with what the node has.
 */
export function createImagePinner(manager: Docker): (image: string) => Promise<string> {
  const pinned = new Map<string, string>();
  return async (image) => {
    if (/^sha256:[0-9a-f]{64}$/.test(image) || image.includes('@sha256:')) return image;
    const known = pinned.get(image);
    if (known) return known;
    let info: Docker.ImageInspectInfo;
    try {
      info = await manager.getImage(image).inspect();
    } catch (e) {
      if ((e as { statusCode?: number } | null)?.statusCode === 404) {
        throw new AppError('bad_request', `image ${image} is not on the Swarm manager: load it on every node (docker load) or push it to a registry the nodes reach`);
      }
      throw e;
    }
    const repo = image.replace(/:[^/:]+$/, '');
    const ref = info.RepoDigests?.find((d) => d.startsWith(`${repo}@`)) ?? info.Id;
    pinned.set(image, ref);
    return ref;
  };
}
