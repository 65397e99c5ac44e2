// The nodes' pools as the controller's host reaches them, for shipping template versions from its
// own pool (where imports run) with btrfs send | receive. Today every pool is a local mount (the test
// bed's nodes share this machine); a pool on another machine needs a node agent (docs/many-hosts.md).
import { AppError } from '../domain/errors.js';
import type { CommandRunner } from '../domain/command.js';
import { createBtrfsShipper, createLocalPool, type PoolAccess } from './btrfs-ship.js';

export interface PoolShipping {
  reaches(node: string): boolean;
  versionsOn(node: string, template: string): Promise<string[]>;
  ship(node: string, template: string, version: string, parents: string[]): Promise<{ parent: string | null; streamBytes: number; ms: number; alreadyThere: boolean }>;
}

export function createPoolShipping(opts: { source: string; pools: Record<string, string>; runner: CommandRunner }): PoolShipping {
  const shipper = createBtrfsShipper();
  const from = createLocalPool('controller', opts.source, opts.runner);
  const pools = new Map<string, PoolAccess>(Object.entries(opts.pools).map(([node, root]) => [node, createLocalPool(node, root, opts.runner)]));
  const pool = (node: string) => {
    const p = pools.get(node);
    if (!p) throw new AppError('bad_request', `no pool is configured for node ${node}: add it to MYAAS_SWARM_NODE_POOLS`);
    return p;
  };
  return {
    reaches: (node) => pools.has(node),
    versionsOn: (node, template) => shipper.versionsOn(pool(node), template),
    async ship(node, template, version, parents) {
      const r = await shipper.ship({ template, version, from, to: pool(node), parents });
      return { parent: r.parent, streamBytes: r.streamBytes, ms: r.ms, alreadyThere: r.alreadyThere };
    },
  };
}
