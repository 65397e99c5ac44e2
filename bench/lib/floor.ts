// The floor: the steps of a clone-to-ready done with plain commands and no controller, so the
// controller's own overhead shows: btrfs snapshot, docker create, start, inspect, then an
// authenticated query (retried every 2 ms). Three network set-ups, to show what Docker's start costs:
// - bridge: own network namespace and a published port, as myaas runs instances today;
// - host: the host's namespace, the server on a free port of the host's address;
// - shared netns: joins a long-running holder container's namespace (`container:<id>`), queried on the holder's IP.
import { createServer } from 'node:net';
import os from 'node:os';
import Docker from 'dockerode';
import { createEngine } from '../../controller/engines/index.js';
import { systemClock } from '../../controller/lib/clock.js';
import type { TemplateInfo } from './alternatives.js';
import { firstQuery, sampleQuery } from './clients.js';
import { labels } from './docker.js';
import type { SizeSpec } from './options.js';
import { calm, cmd, fmtMs, round1, say, stats, type Stats } from './util.js';

export const VARIANTS = ['bridge + published port', 'host network', 'shared netns'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface FloorRun {
  via: Variant;
  snapshotMs: number;
  createMs: number;
  startMs: number;
  inspectMs: number;
  queryMs: number;
  totalMs: number;
  removeMs: number;
}

export interface FloorResult {
  size: string;
  runs: FloorRun[];
  stats: Record<string, Record<keyof Omit<FloorRun, 'via'>, Stats>>;
}

const docker = new Docker();

/**
 * The host's own address for the host-network variant: MariaDB's install creates root@127.0.0.1 and
 * root@localhost without the admin password, which would shadow root@'%' for loopback clients.
 */
function hostAddress(): string {
  const all = Object.values(os.networkInterfaces()).flat();
  return all.find((a) => a && a.family === 'IPv4' && !a.internal)?.address ?? '127.0.0.1';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

/** Extra server arguments that move it to `port` on `ip` (later flags win for both servers). */
function listenOn(engine: string, ip: string, port: number): string[] {
  return engine === 'postgres' ? ['-p', String(port), '-c', `listen_addresses=${ip}`] : [`--port=${port}`, `--bind-address=${ip}`];
}

export interface FloorRig {
  /** One clone-to-query with plain commands over `via`; `i` makes the names unique. */
  run(via: Variant, i: number): Promise<FloorRun>;
  close(): Promise<void>;
}

/** The holder container of the shared-netns variant and everything a floor run needs, made once. */
export async function openFloorRig(s: SizeSpec, tpl: TemplateInfo, image: string, scratchParent: string): Promise<FloorRig> {
  const engine = createEngine(s.engine, systemClock());
  const portKey = `${engine.port}/tcp`;
  const holder = await docker.createContainer({ name: `myaas-bench-netns-${process.pid}-${s.id}`, Image: image, Cmd: ['sleep', 'infinity'], Entrypoint: [], Labels: labels('floor') });
  await holder.start();
  const holderIp = Object.values((await holder.inspect()).NetworkSettings.Networks)[0]?.IPAddress ?? '';
  const hostIp = hostAddress();
  return {
    async run(via, i) {
      const dst = `${scratchParent}/floor-${process.pid}-${s.id}-${i}`;
      const port = via === 'bridge + published port' ? engine.port : await freePort();
      const base = engine.serverCommand('instance', '/tmp');
      const cmdline = via === 'bridge + published port' ? base : [...base, ...listenOn(s.engine, via === 'host network' ? hostIp : '0.0.0.0', port)];
      const limits = { Binds: [`${dst}:${engine.dataDir}`], Memory: 1024 ** 3, NanoCpus: 1e9, ShmSize: 128 * 1024 * 1024 };
      const network =
        via === 'bridge + published port'
          ? { ExposedPorts: { [portKey]: {} }, HostConfig: { ...limits, PortBindings: { [portKey]: [{ HostIp: '127.0.0.1', HostPort: '' }] } } }
          : { HostConfig: { ...limits, NetworkMode: via === 'host network' ? 'host' : `container:${holder.id}` } };
      let c: Docker.Container | null = null;
      try {
        const t0 = performance.now();
        await cmd('btrfs', ['subvolume', 'snapshot', tpl.dir, dst]);
        const t1 = performance.now();
        c = await docker.createContainer({
          name: `myaas-bench-floor-${process.pid}-${s.id}-${i}`, Image: image, Cmd: cmdline, Entrypoint: [], User: engine.user, Labels: labels('floor'), ...network,
        });
        const t2 = performance.now();
        await c.start();
        const t3 = performance.now();
        const info = await c.inspect();
        const t4 = performance.now();
        const [host, p] =
          via === 'bridge + published port'
            ? ['127.0.0.1', Number(info.NetworkSettings.Ports[portKey]?.find((b) => !b.HostIp.includes(':'))?.HostPort)]
            : [via === 'host network' ? hostIp : holderIp, port];
        await firstQuery(engine.url({ host, port: p, user: engine.adminUser, password: tpl.adminPassword, database: tpl.database }), sampleQuery(s.engine));
        const t5 = performance.now();
        await c.remove({ force: true });
        c = null;
        const t6 = performance.now();
        return {
          via, snapshotMs: round1(t1 - t0), createMs: round1(t2 - t1), startMs: round1(t3 - t2), inspectMs: round1(t4 - t3),
          queryMs: round1(t5 - t4), totalMs: round1(t5 - t0), removeMs: round1(t6 - t5),
        };
      } finally {
        if (c) await c.remove({ force: true }).catch(() => {});
        await cmd('btrfs', ['subvolume', 'delete', dst]).catch(() => '');
      }
    },
    async close() {
      await holder.remove({ force: true }).catch(() => {});
    },
  };
}

export async function measureFloor(s: SizeSpec, tpl: TemplateInfo, image: string, scratchParent: string, runs: number): Promise<FloorResult> {
  const rig = await openFloorRig(s, tpl, image, scratchParent);
  await calm();
  const out: FloorRun[] = [];
  try {
    for (let i = 0; i < runs * VARIANTS.length; i++) out.push(await rig.run(VARIANTS[i % VARIANTS.length], i));
  } finally {
    await rig.close();
  }
  const result: FloorResult = { size: s.id, runs: out, stats: {} };
  const keys = ['snapshotMs', 'createMs', 'startMs', 'inspectMs', 'queryMs', 'totalMs', 'removeMs'] as const;
  for (const via of VARIANTS) {
    const rs = out.filter((r) => r.via === via);
    result.stats[via] = Object.fromEntries(keys.map((k) => [k, stats(rs.map((r) => r[k]))])) as FloorResult['stats'][string];
    const m = result.stats[via];
    say(
      `${s.id} floor, ${via}: median ${fmtMs(m.totalMs.median)} (snapshot ${m.snapshotMs.median}, create ${m.createMs.median}, ` +
        `start ${m.startMs.median}, inspect ${m.inspectMs.median}, until query ${m.queryMs.median} ms; remove ${m.removeMs.median} ms)`,
    );
  }
  return result;
}
