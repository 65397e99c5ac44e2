// The density series' create time against the empty host, beside the plain-command floor's: pure
// functions of the report, the target and the chart. No Docker.
import { describe, expect, it } from 'vitest';
import { renderDensityChart } from '../../bench/lib/chart-series.js';
import { calmNote, densityGrowth, growthVerdict } from '../../bench/lib/density-growth.js';
import { seriesMarkdown } from '../../bench/lib/report-series.js';
import type { Results } from '../../bench/lib/results.js';
import { seriesTargets } from '../../bench/lib/results.js';
import type { DensityPoint } from '../../bench/lib/scale.js';
import { stats } from '../../bench/lib/util.js';

const st = (...xs: number[]) => stats(xs);

function point(n: number, create: number, floor: number[] | null, loadAtStart = 1.1, waitedMs = 0): DensityPoint {
  return {
    n, create: st(create),
    list: { firstPage: st(5), allPages: st(10), pages: 1, byTemplate: st(5), byOwner: st(5), byStatus: st(5) },
    pass: st(30), callsPerPass: { docker: 1, statedb: 4, byName: { 'docker.list': 1 } }, rssBytes: 300 * 2 ** 20, heapUsedBytes: 50 * 2 ** 20,
    idleCpuPercent: 1, idleWindowMs: 5000, load: 1.4, fillErrors: [],
    ...(floor ? { floor: { create: stats(floor), errors: floor.length ? [] : [{ error: 'docker: boom | x', n: 3 }] } } : {}),
    calm: { loadAtStart, waitedMs, checked: true, settled: loadAtStart <= 2, cores: 2 },
  };
}

const results = (points: DensityPoint[]) =>
  ({ density: [{ series: 'btrfs', size: 'pg-s10', batch: 20, points, destroyAllMs: 1000, destroyErrors: [] }] }) as unknown as Results;

describe('density growth against the empty host', () => {
  it('divides each step by its own n = 0 value, myaas and the floor apart', () => {
    const g = densityGrowth([point(0, 500, [400]), point(100, 550, [420]), point(500, 1500, [1000])]);
    expect(g.map((x) => x.myaasX)).toEqual([1, 1.1, 3]);
    expect(g.map((x) => x.floorX)).toEqual([1, 1.05, 2.5]);
    expect(g[2]).toMatchObject({ n: 500, myaasMs: 1500, floorMs: 1000, myaasOverFloor: 1.5 });
  });

  it('leaves the floor out where it was not measured or every run failed, and ratios without an empty step', () => {
    const g = densityGrowth([point(0, 500, null), point(100, 600, [])]);
    expect(g[1]).toMatchObject({ floorMs: null, floorX: null, myaasOverFloor: null, myaasX: 1.2 });
    const noEmpty = densityGrowth([point(100, 600, [300])]);
    expect(noEmpty[0].myaasX).toBeNaN();
    expect(noEmpty[0].floorX).toBeNull();
    expect(noEmpty[0].myaasOverFloor).toBe(2);
  });

  it('says whether the host or myaas stands between a step and 1.2×', () => {
    const v = (m: number, f: number) => growthVerdict({ n: 500, myaasMs: 0, myaasX: m, floorMs: 1, floorX: f, myaasOverFloor: 1 });
    expect(v(3, 2.5)).toMatch(/host alone grows 2\.50× .* 1\.20× of the floor's growth/);
    expect(v(2, 1.1)).toMatch(/floor stays at 1\.10× .* myaas's/);
    expect(v(1.1, 1.05)).toMatch(/both within/);
    expect(v(1.1, 1.5)).toMatch(/within the limit although the host/);
    expect(growthVerdict({ n: 5, myaasMs: 0, myaasX: 1.3, floorMs: null, floorX: null, myaasOverFloor: null })).toMatch(/floor not measured/);
  });

  it('describes the load and the wait for a calm machine', () => {
    expect(calmNote(undefined)).toBe('–');
    expect(calmNote(point(0, 1, null, 1.5, 200).calm)).toBe('1.5 (no wait)');
    expect(calmNote(point(0, 1, null, 3.5, 300_000).calm)).toBe('3.5 (waited 300 s, gave up)');
    expect(calmNote({ loadAtStart: 5, waitedMs: 0, checked: false, settled: false, cores: 2 })).toBe('5 (quick: no wait)');
  });
});

describe('density report, target and chart with the floor', () => {
  const r = results([point(0, 500, [400]), point(100, 550, [420], 2.5, 40_000), point(500, 1500, [1000])]);

  it('tabulates both, their growth and the load, and judges myaas with the floor beside it', () => {
    const md = seriesMarkdown(r).join('\n');
    expect(md).toContain('| pg-s10 | 500 | 1.50 s | 3.00× | 1.00 s | 2.50× | 1.50× | 1.1 (no wait) | 1.4 | – |');
    expect(md).toContain('| pg-s10 | 100 | 550 ms | 1.10× | 420 ms | 1.05× | 1.31× | 2.5 (waited 40 s, gave up) |');
    expect(md).toMatch(/At 500 instances: the host alone grows 2\.50×/);
    const t = seriesTargets(r).find((x) => x.target.startsWith('create with N'))!;
    expect(t.met).toBe(false);
    expect(t.measured).toContain('1.50 s at 500 instances vs 500 ms empty: 3.00×; floor (plain commands) 1.00 s vs 400 ms empty: 2.50×');
    expect(t.measured).toContain('load at start 1.1 (no wait)');
  });

  it('escapes pipes in floor errors and still reports results without the floor', () => {
    const md = seriesMarkdown(results([point(0, 500, [400]), point(20, 500, [])])).join('\n');
    expect(md).toContain('3× docker: boom \\| x');
    const old = results([point(0, 500, null), point(20, 520, null)]);
    for (const p of old.density![0].points) delete p.calm;
    expect(seriesMarkdown(old).join('\n')).not.toContain('Create beside the floor');
    expect(seriesTargets(old).find((x) => x.target.startsWith('create with N'))!.measured).toContain('floor not measured');
    expect(renderDensityChart(old)).not.toContain('plain commands');
  });

  it('draws the floor beside myaas and the growth panel with the 1.2× line', () => {
    const svg = renderDensityChart(r)!;
    expect(svg).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    expect(svg).not.toContain('NaN');
    expect(svg).toContain('floor: plain commands, clone-to-first-query (pg-s10)');
    expect(svg).toContain('create ÷ its empty-host value');
    expect(svg).toContain('1.2× (target)');
    expect(svg).toContain('100: 2.5');
  });
});
