// The nodes' pools as the controller reaches them, for shipping template versions from its own pool
// (where imports run) with btrfs send | receive, and for copying back into it a version another
// controller imported. A node's pool is either a folder this host mounts (the test bed's nodes share
// one machine) or the node's pool agent, an http(s):// URL (pool-agent-client.ts).
import { AppError } from '../domain/errors.js';
import type { CommandRunner } from '../domain/command.js';
import { createBtrfsShipper, createLocalPool, type PoolAccess } from './btrfs-ship.js';
import { createPoolAgentClient, type AgentClientOptions } from './pool-agent-client.js';

export interface PoolShipping {
  reaches(node: string): boolean;
  versionsOn(node: string, template: string): Promise<string[]>;
  ship(node: string, template: string, version: string, parents: string[]): Promise<{ parent: string | null; streamBytes: number; ms: number; alreadyThere: boolean }>;
  space(node: string): Promise<{ totalBytes: number; freeBytes: number }>;
  remove(node: string, template: string, version: string): Promise<void>;
  versionsHere(template: string): Promise<string[]>;
  fetch(node: string, template: string, version: string, parents: string[]): Promise<{ parent: string | null; streamBytes: number; ms: number; alreadyThere: boolean }>;
}

export function createPoolShipping(opts: {
  source: string;
  /** node hostname → a folder this host mounts, or its pool agent's http(s):// URL */
  pools: Record<string, string>;
  runner: CommandRunner;
  /** removes a (sealed) template version's folder on a pool this host mounts: the pool's own storage */
  removeVersion: (path: string) => Promise<void>;
  /** how pool agents are reached (token, CA); required when a pool is a URL */
  agent?: Omit<AgentClientOptions, 'name' | 'url'>;
}): PoolShipping {
  const shipper = createBtrfsShipper();
  const local = (name: string, root: string) => createLocalPool(name, root, opts.runner, { removeVersion: opts.removeVersion });
  const from = local('controller', opts.source);
  const access = (node: string, where: string): PoolAccess => {
    if (!/^https?:\/\//.test(where)) return local(node, where);
    if (!opts.agent) throw new AppError('bad_request', `node ${node}'s pool is an agent (${where}) but no MYAAS_AGENT_TOKEN is set`);
    return createPoolAgentClient({ ...opts.agent, name: node, url: where });
  };
  const pools = new Map<string, PoolAccess>(Object.entries(opts.pools).map(([node, where]) => [node, access(node, where)]));
  const pool = (node: string) => {
    const p = pools.get(node);
    if (!p) throw new AppError('bad_request', `no pool is configured for node ${node}: add it to MYAAS_SWARM_NODE_POOLS`);
    return p;
  };
  const result = (r: { parent: string | null; streamBytes: number; ms: number; alreadyThere: boolean }) => ({
    parent: r.parent, streamBytes: r.streamBytes, ms: r.ms, alreadyThere: r.alreadyThere,
  });
  return {
    reaches: (node) => pools.has(node),
    versionsOn: (node, template) => pool(node).versions(template),
    remove: (node, template, version) => pool(node).remove(template, version),
    space: (node) => pool(node).space(),
    ship: async (node, template, version, parents) => result(await shipper.ship({ template, version, from, to: pool(node), parents })),
    versionsHere: (template) => from.versions(template),
    fetch: async (node, template, version, parents) => result(await shipper.ship({ template, version, from: pool(node), to: from, parents })),
  };
}
