// The floor beside myaas, quiet and under background I/O: myaas clone-to-ready runs (create ?wait,
// first query, destroy) and floor runs (btrfs snapshot, docker create/start/inspect, first query over
// a published port: what myaas does, without myaas) alternate, so both see the same load. Then the
// same again while a writer fsyncs 8 MiB chunks into the pool.
import type { TemplateInfo } from './alternatives.js';
import { openFloorRig, type FloorRun } from './floor.js';
import type { BenchController } from './harness.js';
import { startIoLoad } from './io-load.js';
import { cloneToReady, destroy, type ColdRun } from './myaas.js';
import type { SizeSpec } from './options.js';
import { calm, calmStep, fmtMs, say, stats, type Stats } from './util.js';

export const CONDITIONS = ['quiet', 'under I/O'] as const;
export type Condition = (typeof CONDITIONS)[number];

const MYAAS_PHASES = ['clone', 'start', 'rotate', 'probe', 'api', 'client'] as const;
const FLOOR_PHASES = ['snapshot', 'create', 'start', 'inspect', 'query'] as const;

export interface FloorIoSide {
  condition: Condition;
  myaas: { runs: Array<Omit<ColdRun, 'id' | 'url'>>; total: Stats; phases: Record<(typeof MYAAS_PHASES)[number], number>; calls: Record<string, { ms: number; n: number }> };
  floor: { runs: FloorRun[]; total: Stats; phases: Record<(typeof FLOOR_PHASES)[number], number> };
  /** median myaas / median floor */
  ratio: number;
  /** the writer's rate while this condition was measured (under I/O only) */
  writer?: { bytes: number; seconds: number; mibPerSecond: number };
}

export interface FloorIoResult {
  series: string;
  size: string;
  runs: number;
  sides: FloorIoSide[];
}

const med = (xs: number[]) => stats(xs).median;

/** Median per phase of myaas's runs: the controller's `instance ready` timings, the API's rest, the client. */
function myaasPhases(runs: ColdRun[]): FloorIoSide['myaas']['phases'] {
  const c = runs.filter((r) => r.controller);
  return {
    clone: med(c.map((r) => r.controller!.cloneMs)),
    start: med(c.map((r) => r.controller!.startMs)),
    rotate: med(c.map((r) => r.controller!.rotateMs)),
    probe: med(c.map((r) => r.controller!.probeMs)),
    api: med(c.map((r) => r.apiMs - r.controller!.totalMs)),
    client: med(runs.map((r) => r.clientMs)),
  };
}

/** Mean ms and count per instrumented call over the runs. */
function meanCalls(runs: ColdRun[]): Record<string, { ms: number; n: number }> {
  const out: Record<string, { ms: number; n: number }> = {};
  for (const r of runs) {
    for (const [k, v] of Object.entries(r.calls)) {
      const e = (out[k] ??= { ms: 0, n: 0 });
      e.ms += v.ms / runs.length;
      e.n += v.n / runs.length;
    }
  }
  for (const v of Object.values(out)) {
    v.ms = Math.round(v.ms * 10) / 10;
    v.n = Math.round(v.n * 10) / 10;
  }
  return out;
}

export async function measureFloorIo(bc: BenchController, s: SizeSpec, tpl: TemplateInfo, image: string, runs: number): Promise<FloorIoResult> {
  const rig = await openFloorRig(s, tpl, image, bc.dataDir);
  const sides: FloorIoSide[] = [];
  try {
    // Not counted: the first of each after the controller started (page cache, Docker's first network set-up).
    const w = await cloneToReady(bc, s, `b-fio-${s.id}-w`);
    await destroy(bc, w.id);
    await rig.run('bridge + published port', 9999);
    for (const condition of CONDITIONS) {
      if (condition === 'quiet') await calm();
      else await calmStep();
      const load = condition === 'under I/O' ? await startIoLoad(bc.dataDir) : null;
      const mine: ColdRun[] = [];
      const floor: FloorRun[] = [];
      let writer: FloorIoSide['writer'];
      try {
        for (let i = 0; i < runs; i++) {
          const r = await cloneToReady(bc, s, `b-fio-${s.id}-${condition === 'quiet' ? 'q' : 'io'}-${i}`);
          await destroy(bc, r.id);
          mine.push(r);
          floor.push(await rig.run('bridge + published port', (condition === 'quiet' ? 0 : 1000) + i));
        }
      } finally {
        writer = await load?.stop();
      }
      const total = stats(mine.map((r) => r.totalMs));
      const ftotal = stats(floor.map((r) => r.totalMs));
      const side: FloorIoSide = {
        condition,
        myaas: { runs: mine.map(({ id: _i, url: _u, ...rest }) => rest), total, phases: myaasPhases(mine), calls: meanCalls(mine) },
        floor: {
          runs: floor, total: ftotal,
          phases: {
            snapshot: med(floor.map((r) => r.snapshotMs)), create: med(floor.map((r) => r.createMs)), start: med(floor.map((r) => r.startMs)),
            inspect: med(floor.map((r) => r.inspectMs)), query: med(floor.map((r) => r.queryMs)),
          },
        },
        ratio: Math.round((total.median / ftotal.median) * 100) / 100,
        ...(writer ? { writer } : {}),
      };
      sides.push(side);
      say(
        `${s.id} floor vs myaas, ${condition}: myaas median ${fmtMs(total.median)} (p95 ${fmtMs(total.p95)}), floor ${fmtMs(ftotal.median)} (p95 ${fmtMs(ftotal.p95)}): ` +
          `${side.ratio}×${writer ? `; writer ${writer.mibPerSecond} MiB/s` : ''}`,
      );
    }
  } finally {
    await rig.close();
  }
  return { series: bc.driver, size: s.id, runs, sides };
}
