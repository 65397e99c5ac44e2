// Many hosts (MYAAS_RUNTIME=swarm): templates are imported once, on this host, and shipped to every
// node's pool; a node is labelled with each version it holds completely, and an instance's service is
// constrained to nodes with its version's label. One pass ships what is missing: after each import,
// at start-up and at every reconcile sweep, so a node that joins (or comes back) gets the versions in
// use. Versions no longer wanted stay on the nodes for now (their instances may still run there).
// The pass also removes clones a lost node kept of instances that were made again elsewhere.
import { messageOf } from '../domain/errors.js';
import { homeSelector } from '../domain/labels.js';
import type { Logger } from '../domain/logger.js';
import type { Store } from '../app/ports.js';
import { clusterVersionLabel, POOL_FULL_LABEL } from './provision.js';

export interface ClusterNode {
  id: string;
  hostname: string;
  ready: boolean;
  labels: Record<string, string>;
}

/** The Swarm's nodes and their labels (the cluster runtime). */
export interface ClusterNodes {
  nodes(): Promise<ClusterNode[]>;
  labelNode(nodeId: string, labels: Record<string, string>): Promise<void>;
  /** Removes labels from a node, keeping its others. */
  unlabelNode(nodeId: string, keys: string[]): Promise<void>;
  /** Removes the nodes' volumes with `labels` that no service mounts; answers their names. */
  pruneVolumes(labels: Record<string, string>): Promise<string[]>;
}

export interface ShipOutcome {
  parent: string | null;
  streamBytes: number;
  ms: number;
  alreadyThere: boolean;
}

/** The nodes' pools as this host reaches them (btrfs send | receive). */
export interface VersionShipping {
  /** whether this host reaches the node's pool */
  reaches(node: string): boolean;
  /** the template's versions complete (sealed) on the node's pool */
  versionsOn(node: string, template: string): Promise<string[]>;
  ship(node: string, template: string, version: string, parents: string[]): Promise<ShipOutcome>;
  /** the template's versions complete (sealed) in this controller's own pool, where shipments start */
  versionsHere(template: string): Promise<string[]>;
  /** copies a version from the node's pool into this controller's own pool (the reverse of ship) */
  fetch(node: string, template: string, version: string, parents: string[]): Promise<ShipOutcome>;
  /** removes a version from the node's pool (clones made from it are independent of it) */
  remove(node: string, template: string, version: string): Promise<void>;
  /** the node's pool: its size and what is free */
  space(node: string): Promise<{ totalBytes: number; freeBytes: number }>;
}

export interface ClusterSyncDeps {
  nodes: ClusterNodes;
  shipping: VersionShipping;
  store: Pick<Store, 'listVersions' | 'versionsInUse'>;
  /** versions pinned in configuration: kept on the nodes like ones in use */
  pinned?: Set<string>;
  /** this controller's label value (its volumes carry it) */
  home: string;
  /** bytes a node's pool keeps free (MYAAS_DISK_RESERVE of its size): below it, no new instance goes there */
  reserveBytes(totalBytes: number): number;
  log: Logger;
}

export interface SyncReport {
  shipped: Array<{ node: string; template: string; version: string; ms: number; bytes: number; parent: string | null }>;
  /** versions this controller's pool lacked, copied from a node (another controller imported them) */
  fetched: Array<{ node: string; template: string; version: string; ms: number; bytes: number }>;
  labelled: number;
  /** nodes that are ready but whose pool this host does not reach (nothing is placed there) */
  unreachable: string[];
  /** what could not be done on a node; version null: the node's pool could not even be read */
  failed: Array<{ node: string; template: string; version: string | null; error: string }>;
  /** volumes removed from nodes: clones of instances made again elsewhere while their node was lost */
  pruned: string[];
  /** versions removed from nodes (retired, used by no instance, pinned by no repository) */
  retired: Array<{ node: string; template: string; version: string }>;
}

export interface ClusterSync {
  /** Ships every wanted version to every ready node that lacks it and labels the nodes. One pass at a time. */
  sync(): Promise<SyncReport>;
  /** Resolves once no pass runs (one in flight holds template versions open: btrfs send). */
  idle(): Promise<void>;
}

export function createClusterSync(deps: ClusterSyncDeps): ClusterSync {
  const { log, shipping } = deps;
  const warned = new Set<string>();
  /** template/version found in no pool, already said */
  const lost = new Set<string>();

  /** template → versions to hold on every node: the ready ones and retired ones still in use, oldest first. */
  async function wanted(): Promise<Map<string, string[]>> {
    const inUse = await deps.store.versionsInUse();
    const out = new Map<string, string[]>();
    const all = await deps.store.listVersions({ status: ['ready', 'retired'] });
    // Every template with a version anywhere: one whose versions are all unwanted still has its old ones removed.
    for (const v of all) if (!out.has(v.template)) out.set(v.template, []);
    for (const v of [...all].sort((a, b) => a.id.localeCompare(b.id))) {
      if (v.status !== 'ready' && !inUse.has(v.id) && !deps.pinned?.has(v.id)) continue;
      out.set(v.template, [...(out.get(v.template) ?? []), v.id]);
    }
    return out;
  }

  async function poolFull(node: string): Promise<boolean | null> {
    try {
      const { totalBytes, freeBytes } = await shipping.space(node);
      const full = freeBytes < deps.reserveBytes(totalBytes);
      if (full) log.warn({ node, freeMiB: Math.round(freeBytes / 2 ** 20) }, 'a node\'s pool is short of disk (MYAAS_DISK_RESERVE): no new instance is placed there until it has room');
      return full;
    } catch (e) {
      log.warn({ node, err: messageOf(e) }, 'could not read the free space of a node\'s pool');
      return null;
    }
  }

  /**
   * Versions wanted that this controller's pool lacks, copied from a node that holds them: with
   * several controllers (one active at a time, each with its own pool), the one active now may not
   * be the one that imported them, and shipments to nodes start from its own pool.
   */
  async function fetchMissing(want: Map<string, string[]>, nodes: ClusterNode[], report: SyncReport): Promise<Map<string, string[]>> {
    const here = new Map<string, string[]>();
    for (const [template, versions] of want) {
      const have = await shipping.versionsHere(template);
      here.set(template, have);
      for (const version of versions.filter((v) => !have.includes(v))) {
        let from: string | null = null;
        for (const n of nodes) {
          if (n.ready && shipping.reaches(n.hostname) && (await shipping.versionsOn(n.hostname, template).catch((): string[] => [])).includes(version)) {
            from = n.hostname;
            break;
          }
        }
        const key = `${template}/${version}`;
        if (!from) {
          // Said once per loss, not at every sweep.
          if (!lost.has(key)) log.warn({ template, version }, 'a template version is in neither this controller\'s pool nor any node\'s: it is not shipped; import the template again');
          lost.add(key);
          continue;
        }
        lost.delete(key);
        try {
          const r = await shipping.fetch(from, template, version, have);
          have.push(version);
          report.fetched.push({ node: from, template, version, ms: r.ms, bytes: r.streamBytes });
          log.info({ from, template, version, ms: r.ms, mib: Math.round(r.streamBytes / 2 ** 20) }, 'copied a template version this controller lacked from a node');
        } catch (e) {
          log.error({ from, template, version, err: messageOf(e) }, 'could not copy a template version from a node; trying again at the next sweep');
        }
      }
    }
    return here;
  }

  async function pass(): Promise<SyncReport> {
    const report: SyncReport = { shipped: [], fetched: [], labelled: 0, unreachable: [], failed: [], pruned: [], retired: [] };
    const want = await wanted();
    const nodes = await deps.nodes.nodes();
    const here = await fetchMissing(want, nodes, report);
    for (const node of nodes) {
      if (!node.ready) continue;
      if (!shipping.reaches(node.hostname)) {
        report.unreachable.push(node.hostname);
        if (!warned.has(node.hostname)) log.warn({ node: node.hostname }, 'a Swarm node whose pool is not configured (MYAAS_SWARM_NODE_POOLS): no template is shipped there, so no instance is placed there');
        warned.add(node.hostname);
        continue;
      }
      warned.delete(node.hostname);
      const labels: Record<string, string> = {};
      // Placement by room: Swarm weighs memory reservations; a pool short of disk is kept out by label.
      const full = await poolFull(node.hostname);
      if (full !== null && node.labels[POOL_FULL_LABEL] !== String(full)) labels[POOL_FULL_LABEL] = String(full);
      for (const [template, versions] of want) {
        let have: string[];
        try {
          have = await shipping.versionsOn(node.hostname, template);
        } catch (e) {
          // Its pool agent down, unreachable or refusing: the other nodes go on; its labels stay as they are.
          report.failed.push({ node: node.hostname, template, version: null, error: messageOf(e) });
          log.error({ node: node.hostname, template, err: messageOf(e) }, 'could not read a node\'s pool; nothing is shipped there until it answers');
          continue;
        }
        for (const version of versions) {
          if (!have.includes(version) && here.get(template)?.includes(version)) {
            try {
              log.info({ node: node.hostname, template, version }, 'shipping a template version to a node');
              const r = await shipping.ship(node.hostname, template, version, have);
              have.push(version);
              report.shipped.push({ node: node.hostname, template, version, ms: r.ms, bytes: r.streamBytes, parent: r.parent });
              log.info({ node: node.hostname, template, version, ms: r.ms, mib: Math.round(r.streamBytes / 2 ** 20), incrementalFrom: r.parent }, 'template version shipped');
            } catch (e) {
              report.failed.push({ node: node.hostname, template, version, error: messageOf(e) });
              log.error({ node: node.hostname, template, version, err: messageOf(e) }, 'could not ship a template version to a node; trying again at the next sweep');
              continue;
            }
          }
          if (!have.includes(version)) continue; // neither here nor there: nothing to ship it from
          const key = clusterVersionLabel(version);
          if (node.labels[key] !== 'true') labels[key] = 'true';
        }
        // What is no longer wanted leaves the node: its label first, so nothing new is placed by it.
        for (const old of have.filter((v) => !versions.includes(v))) {
          try {
            if (node.labels[clusterVersionLabel(old)] !== undefined) await deps.nodes.unlabelNode(node.id, [clusterVersionLabel(old)]);
            await shipping.remove(node.hostname, template, old);
            report.retired.push({ node: node.hostname, template, version: old });
            log.info({ node: node.hostname, template, version: old }, 'removed a retired template version from a node');
          } catch (e) {
            log.warn({ node: node.hostname, template, version: old, err: messageOf(e) }, 'could not remove a retired template version from a node; trying again at the next sweep');
          }
        }
      }
      if (Object.keys(labels).length) {
        await deps.nodes.labelNode(node.id, labels);
        report.labelled += Object.keys(labels).length;
      }
    }
    report.pruned = await deps.nodes.pruneVolumes(homeSelector(deps.home));
    if (report.pruned.length) log.warn({ volumes: report.pruned }, 'removed clones no instance uses from the nodes (left by a lost node)');
    return report;
  }

  // One pass at a time; a pass asked for meanwhile (a new import finished) runs after it.
  let chain: Promise<unknown> = Promise.resolve();
  return {
    sync() {
      const next = chain.then(pass);
      chain = next.catch(() => undefined);
      return next;
    },
    async idle() {
      // Passes queued meanwhile are in the chain too: wait until it stops growing.
      for (let seen = chain; ; seen = chain) {
        await seen;
        if (seen === chain) return;
      }
    },
  };
}
