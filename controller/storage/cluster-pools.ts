// The nodes' pools as the controller's host reaches them, for shipping template versions from its
// own pool (where imports run) with btrfs send | receive, and for copying back into it a version
// another controller imported. Today every pool is a local mount (the test
// bed's nodes share this machine); a pool on another machine needs a node agent (docs/many-hosts.md).
import { statfs } from 'node:fs/promises';
import { AppError } from '../domain/errors.js';
import type { CommandRunner } from '../domain/command.js';
import { createBtrfsShipper, createLocalPool, type PoolAccess } from './btrfs-ship.js';

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
  pools: Record<string, string>;
  runner: CommandRunner;
  /** removes a (sealed) template version's folder on a pool this host mounts: the pool's own storage */
  removeVersion: (path: string) => Promise<void>;
}): PoolShipping {
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
    async remove(node, template, version) {
      const p = pool(node);
      if (!(await shipper.versionsOn(p, template)).includes(version)) return;
      await opts.removeVersion(`${p.root}/templates/${template}/${version}`);
    },
    async space(node) {
      const st = await statfs(pool(node).root);
      return { totalBytes: st.blocks * st.bsize, freeBytes: st.bavail * st.bsize };
    },
    async ship(node, template, version, parents) {
      const r = await shipper.ship({ template, version, from, to: pool(node), parents });
      return { parent: r.parent, streamBytes: r.streamBytes, ms: r.ms, alreadyThere: r.alreadyThere };
    },
    versionsHere: (template) => shipper.versionsOn(from, template),
    async fetch(node, template, version, parents) {
      const r = await shipper.ship({ template, version, from: pool(node), to: from, parents });
      return { parent: r.parent, streamBytes: r.streamBytes, ms: r.ms, alreadyThere: r.alreadyThere };
    },
  };
}
