// The many-host test bed (scripts/testbed-cluster.sh) for integration tests: brought up by the test
// and torn down after it. Anything that keeps it from coming up fails the test.
// MYAAS_CLUSTER_REUSE=1 uses a bed that is already up and leaves it up (for working on the tests).
import { systemClock } from '../../controller/lib/clock.js';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { createEngine } from '../../controller/engines/index.js';
import type { TemplateVersion } from '../../controller/domain/types.js';
import { createCommandRunner } from '../../controller/host/command.js';
import { createBtrfsShipper, createLocalPool, type PoolAccess } from '../../controller/storage/btrfs-ship.js';
import { addChinookDumps, importAndWait, startTestController, wipe, type TestController } from './controller.js';
import { POOLS, requireDocker, requirePool } from './testbed.js';

const run = promisify(execFile);
export const SCRIPT = fileURLToPath(new URL('../../scripts/testbed-cluster.sh', import.meta.url));
// Not in the repository: bench/work is ignored; docs/many-hosts.md quotes measured runs.
const RESULTS = fileURLToPath(new URL('../../bench/work/cluster/', import.meta.url));

export interface ClusterNode {
  k: number;
  /** Swarm node label myaas.node and hostname suffix: node1, node2, … */
  name: string;
  addr: string;
  dockerHost: string;
  docker: Docker;
  pool: string;
  poolAccess: PoolAccess;
  /** its pool agent (the node's volume plugin), as a controller on another machine reaches it */
  agentUrl: string;
}

export interface Cluster {
  nodes: ClusterNode[];
  manager: ClusterNode;
  /** the secret the nodes' pool agents accept (MYAAS_AGENT_TOKEN) */
  agentToken: string;
  /** runs testbed-cluster.sh with these arguments */
  script(...args: string[]): Promise<string>;
  down(): Promise<void>;
}

async function script(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('bash', [SCRIPT, ...args], { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout + stderr;
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`testbed-cluster.sh ${args.join(' ')} failed: ${x.message}\n${x.stdout ?? ''}\n${x.stderr ?? ''}`);
  }
}

export async function clusterUp(n: number): Promise<Cluster> {
  await requireDocker();
  const reuse = process.env.MYAAS_CLUSTER_REUSE === '1' && /dockerd up/.test(await script('status'));
  const t0 = Date.now();
  if (!reuse) await script('up', String(n));
  const upMs = Date.now() - t0;
  const runner = createCommandRunner();
  const nodes: ClusterNode[] = [];
  for (let k = 1; k <= n; k++) {
    const dockerHost = `unix:///run/myaas-cluster/node${k}/docker.sock`;
    const pool = `/var/lib/myaas-cluster/node${k}/pool`;
    nodes.push({
      k,
      name: `node${k}`,
      addr: `10.231.0.${10 + k}`,
      dockerHost,
      docker: new Docker({ socketPath: dockerHost.slice('unix://'.length) }),
      pool,
      poolAccess: createLocalPool(`node${k}`, pool, runner),
      agentUrl: `http://myaas-node${k}:5002`,
    });
  }
  if (!reuse) process.stderr.write(`[cluster] test bed of ${n} nodes up in ${(upMs / 1000).toFixed(1)} s\n`);
  return {
    nodes,
    manager: nodes[0],
    agentToken: (await readFile('/run/myaas-cluster/agent.token', 'utf8').catch(() => '')).trim(),
    script,
    async down() {
      if (reuse) return;
      const t1 = Date.now();
      await script('down');
      process.stderr.write(`[cluster] test bed down in ${((Date.now() - t1) / 1000).toFixed(1)} s\n`);
    },
  };
}

export interface ImportedTemplates {
  controller: TestController;
  pool: PoolAccess;
  /** imported versions by template name, with the admin secret the datadir was sealed with */
  versions: Record<string, TemplateVersion>;
  close(): Promise<void>;
}

/** Imports the Chinook templates once with a real controller on this host's btrfs pool (the "import host"). */
export async function importChinook(templates: Array<'chinook' | 'chinook-my'>): Promise<ImportedTemplates> {
  requirePool(POOLS.btrfs, 'btrfs');
  const controller = await startTestController({ dataDir: join(POOLS.btrfs, `it-cluster-${process.pid}`), storage: 'btrfs' });
  try {
    await addChinookDumps(controller.dumpsDir);
    const versions: Record<string, TemplateVersion> = {};
    for (const t of templates) {
      const v = await importAndWait(controller, t);
      if (v.status !== 'ready') throw new Error(`import of ${t} failed: ${v.error}`);
      versions[t] = (await controller.controller.store.getVersion(v.id))!;
    }
    return {
      controller,
      pool: createLocalPool('import-host', controller.dataDir, createCommandRunner()),
      versions,
      close: () => wipe(controller),
    };
  } catch (e) {
    await wipe(controller).catch(() => undefined);
    throw e;
  }
}

/** Ships a version from the import host to every node. */
export async function shipEverywhere(from: PoolAccess, nodes: ClusterNode[], v: TemplateVersion): Promise<void> {
  const shipper = createBtrfsShipper();
  for (const n of nodes) await shipper.ship({ template: v.template, version: v.id, from, to: n.poolAccess });
}

/** Rotates the sealed admin secret to a fresh password and probes with it, as the reconciler does; returns the password. */
export async function readyCheck(v: TemplateVersion, host: string, port: number, opts: { current?: string; ms?: number } = {}): Promise<string> {
  const password = randomBytes(18).toString('base64url');
  const engine = createEngine(v.engine, systemClock());
  const deadline = Date.now() + (opts.ms ?? 60_000);
  const conn = { host, port, user: engine.adminUser, password: opts.current ?? v.adminPassword, database: v.database ?? '' };
  await engine.rotatePassword(conn, password, deadline);
  await engine.probe({ ...conn, password }, deadline);
  return password;
}

export interface Series {
  name: string;
  ms: number[];
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

/** Prints a comparison and keeps it in bench/work/cluster/<file>.json; never asserted on. */
export async function record(file: string, series: Series[], note: string): Promise<void> {
  const base = median(series[0].ms);
  const lines = series.map((s) => `  ${s.name.padEnd(48)} median ${median(s.ms).toFixed(0).padStart(6)} ms  ×${(median(s.ms) / base).toFixed(2)}  runs ${s.ms.map((x) => x.toFixed(0)).join(' ')}`);
  process.stderr.write(`[cluster] ${note}\n${lines.join('\n')}\n`);
  await mkdir(RESULTS, { recursive: true });
  await writeFile(
    join(RESULTS, `${file}.json`),
    `${JSON.stringify({ note, at: new Date().toISOString(), series: series.map((s) => ({ ...s, medianMs: median(s.ms) })) }, null, 2)}\n`,
  );
}

export const runs = () => Number(process.env.MYAAS_CLUSTER_BENCH_RUNS ?? 3);
