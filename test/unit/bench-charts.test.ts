// The bench's hand-made SVG charts and option parsing: pure functions, no Docker.
import { describe, expect, it } from 'vitest';
import { renderConcurrencyChart, renderDensityChart, renderFloorChart, renderWakeChart } from '../../bench/lib/chart-series.js';
import { parseOptions } from '../../bench/lib/options.js';
import type { Results } from '../../bench/lib/results.js';
import { seriesTargets } from '../../bench/lib/results.js';
import { tally } from '../../bench/lib/scale.js';
import { niceTicks, renderBarChart, renderLineChart } from '../../bench/lib/svg.js';
import { stats } from '../../bench/lib/util.js';

const st = (...xs: number[]) => stats(xs);

function results(): Results {
  const point = (n: number, create: number, list: number, pass: number) => ({
    n, create: st(create), list: { firstPage: st(list), allPages: st(list * 2), pages: 1 + Math.floor(n / 100), byTemplate: st(list), byOwner: st(5), byStatus: st(list) },
    pass: st(pass), callsPerPass: { docker: 1, statedb: 4, byName: { 'docker.list': 1 } }, rssBytes: (200 + n / 10) * 2 ** 20, heapUsedBytes: 50 * 2 ** 20,
    idleCpuPercent: 1.5, idleWindowMs: 10_000, load: 1.2, fillErrors: [],
  });
  const side = (condition: 'quiet' | 'under I/O', m: number, f: number) => ({
    condition, ratio: m / f,
    myaas: { runs: [], total: st(m), phases: { clone: 25, start: 230, rotate: 55, probe: 13, api: 19, client: 20 }, calls: { 'docker.start': { ms: 200, n: 1 } } },
    floor: { runs: [], total: st(f), phases: { snapshot: 20, create: 60, start: 150, inspect: 5, query: 80 } },
  });
  return {
    floorIo: [{ series: 'btrfs', size: 'pg-s10', runs: 3, sides: [side('quiet', 400, 350), side('under I/O', 700, 500)] }],
    concurrencySeries: [{
      series: 'btrfs', size: 'pg-s10', single: st(500),
      points: [
        { n: 1, allReadyMs: 500, ok: 3, failed: 0, errors: [], perInstance: st(500), destroyAllMs: NaN },
        { n: 20, allReadyMs: 1200, ok: 20, failed: 0, errors: [], perInstance: st(800, 1200), destroyAllMs: 3000 },
        { n: 100, allReadyMs: 9000, ok: 98, failed: 2, errors: [{ error: 'create b-cs100-3: HTTP 504', n: 2 }], perInstance: st(900, 9000), destroyAllMs: 9000 },
      ],
    }],
    density: [{ series: 'btrfs', size: 'pg-s10', batch: 20, points: [point(0, 400, 10, 30), point(100, 430, 20, 90), point(500, 520, 60, 400)], destroyAllMs: 60_000, destroyErrors: [] }],
    wake: [{
      series: 'btrfs, idle suspend 2s', idleSuspend: '2s', memory: null,
      engines: [{ size: 'pg-s10', engine: 'postgres', rounds: 3, wake: st(600, 700, 800), direct: st(20, 25), wakeMs: [600, 700, 800], directMs: [20, 25], failures: [] }],
    }],
  } as unknown as Results;
}

describe('bench charts', () => {
  it('picks round tick steps that cover the data', () => {
    expect(niceTicks(9)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(430)).toEqual([0, 100, 200, 300, 400, 500]);
    expect(niceTicks(0)).toEqual([0, 1]);
    const t = niceTicks(0.37, 4);
    expect(t[t.length - 1]).toBeGreaterThanOrEqual(0.37);
  });

  it('renders well-formed SVG with every series, escaped labels and a target line', () => {
    const svg = renderLineChart([{ title: 'a <b>', xLabel: 'n', yLabel: 'ms', series: [{ label: 'x & y', points: [{ x: 0, y: 1 }, { x: 10, y: 3 }] }], target: { y: 2, label: 't' } }], 'note');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('a &lt;b&gt;');
    expect(svg).toContain('x &amp; y');
    expect(svg).toContain('stroke-dasharray="2,3"');
    expect(svg).not.toContain('NaN');
    const bars = renderBarChart('t', [{ label: 'one', segments: [{ label: 's1', value: 10 }, { label: 's2', value: 5 }] }], ' ms', 'n');
    expect(bars.match(/<rect x=/g)?.length).toBe(2 + 2); // two segments and two legend boxes
    expect(bars).toContain('>15 ms<');
    const failed = renderBarChart('t', [{ label: 'none', segments: [{ label: 's1', value: NaN }] }], ' ms', 'n');
    expect(failed).not.toContain('NaN');
    expect(failed).toContain('not measured');
  });

  it('draws each series of issue 12 and nothing when it was not measured', () => {
    const r = results();
    for (const svg of [renderFloorChart(r), renderConcurrencyChart(r), renderDensityChart(r), renderWakeChart(r)]) {
      expect(svg).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
      expect(svg).not.toContain('NaN');
    }
    expect(renderDensityChart(r)).toContain('50 ms');
    expect(renderConcurrencyChart(r)).toContain('N=100: 2 failed');
    const none = {} as Results;
    expect([renderFloorChart(none), renderConcurrencyChart(none), renderDensityChart(none), renderWakeChart(none)]).toEqual([null, null, null, null]);
  });
});

describe('bench targets of issue 12', () => {
  it('judges ratios, failures and the largest density step', () => {
    const t = seriesTargets(results());
    const met = (s: string) => t.find((x) => x.target.includes(s))?.met;
    expect(met('1.15× of the floor')).toBe(false); // 700 / 500 = 1.4
    expect(met('20 simultaneous')).toBe(true); // 1200 ≤ 2.5 × 500
    expect(met('100 simultaneous')).toBe(false);
    expect(met('create with N')).toBe(false); // 520 / 400 = 1.3
    expect(met('GET /instances')).toBe(false); // 60 ms
    expect(met('reconcile pass')).toBe(true);
    expect(met('suspended postgres')).toBe(true);
    expect(t.find((x) => x.target.includes('100 simultaneous'))?.measured).toContain('2× create b-cs100-3: HTTP 504');
  });

  it('counts errors by message', () => {
    expect(tally(['a', 'b', 'a'])).toEqual([{ error: 'a', n: 2 }, { error: 'b', n: 1 }]);
  });
});

describe('bench options', () => {
  it('selects series and density steps', () => {
    const o = parseOptions(['--series', 'density,wake', '--density', '250', '--density-step', '100']);
    expect(o.series).toEqual(['density', 'wake']);
    expect(o.densitySteps).toEqual([0, 100, 200, 250]);
    expect(parseOptions(['--quick', '--no-density']).series).toEqual(['clone', 'floor-io', 'concurrency', 'wake']);
    expect(parseOptions(['--quick']).concurrencyNs).toEqual([1, 10, 20]);
    expect(parseOptions([]).concurrencyNs).toEqual([1, 20, 100]);
    expect(() => parseOptions(['--series', 'nope'])).toThrow(/unknown series/);
  });
});
