// The charts of issue 12's series, next to chart.svg: floor.svg, concurrency.svg, density.svg, wake.svg.
// Each is null when its series was not measured.
import { densityGrowth, LIMIT } from './density-growth.js';
import type { Results } from './results.js';
import { renderBarChart, renderLineChart, type Bar, type LinePanel } from './svg.js';

const ms = (v: number) => (v >= 1000 ? `${+(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);

/** Per-phase medians of myaas beside the floor's, quiet and under background I/O. */
export function renderFloorChart(r: Results): string | null {
  if (!r.floorIo?.length) return null;
  const bars: Bar[] = [];
  for (const f of r.floorIo) {
    for (const side of f.sides) {
      const p = side.myaas.phases;
      bars.push({
        label: `myaas, ${side.condition} (${f.size})`,
        segments: [
          { label: 'btrfs snapshot / clone', value: p.clone },
          { label: 'docker create + start (+ inspect)', value: p.start },
          { label: 'server ready + password rotation', value: p.rotate },
          { label: 'probe', value: p.probe },
          { label: 'API + state DB', value: p.api },
          { label: 'client connect + first query', value: p.client },
        ],
      });
      const q = side.floor.phases;
      bars.push({
        label: `floor, ${side.condition} (${f.size})`,
        segments: [
          { label: 'btrfs snapshot / clone', value: q.snapshot },
          { label: 'docker create + start (+ inspect)', value: q.create + q.start + q.inspect },
          { label: 'server start + first query (floor)', value: q.query },
        ],
      });
    }
  }
  return renderBarChart(
    'Cold clone-to-ready: myaas beside the floor (plain commands), quiet and under background I/O',
    bars, ' ms', 'Segments: per-phase medians (their sum is not the median total; see results.md). Bridge network, published port.',
  );
}

/** Time until all of N simultaneous requests answer a query, against N. */
export function renderConcurrencyChart(r: Results): string | null {
  if (!r.concurrencySeries?.length) return null;
  const panel: LinePanel = {
    title: 'N requests at once: until all are ready',
    xLabel: 'requests at once (N)',
    yLabel: 'seconds from the first request',
    yFormat: (v) => `${v} s`,
    series: r.concurrencySeries.flatMap((c) => [
      { label: `last instance ready (${c.size})`, points: c.points.map((p) => ({ x: p.n, y: p.allReadyMs / 1000 })) },
      { label: `median instance (${c.size})`, points: c.points.map((p) => ({ x: p.n, y: p.perInstance.median / 1000 })), dashed: true },
      ...(c.points.some((p) => p.floorAllMs)
        ? [{ label: `floor: N plain clone-to-queries at once (${c.size})`, points: c.points.flatMap((p) => (p.floorAllMs ? [{ x: p.n, y: p.floorAllMs / 1000 }] : [])), dashed: true }]
        : []),
    ]),
  };
  const c0 = r.concurrencySeries[0];
  if (c0) panel.target = { y: (2.5 * c0.single.median) / 1000, label: `target at N=20: 2.5 × one cold clone (${ms(c0.single.median)})` };
  const failed = r.concurrencySeries.flatMap((c) => c.points.filter((p) => p.failed).map((p) => `N=${p.n}: ${p.failed} failed`));
  return renderLineChart([panel], `Medians of the single runs at N=1. ${failed.length ? failed.join('; ') : 'No request failed.'}`, 560, 360);
}

/** Create time, list latency, reconcile pass and process memory against the number of instances present. */
export function renderDensityChart(r: Results): string | null {
  if (!r.density?.length) return null;
  const xs = (d: NonNullable<Results['density']>[number], f: (p: (typeof d.points)[number]) => number) => d.points.map((p) => ({ x: p.n, y: f(p) }));
  const panels: LinePanel[] = [];
  const empty = r.density[0].points.find((p) => p.n === 0);
  const floorPts = (d: NonNullable<Results['density']>[number]) => d.points.flatMap((p) => (p.floor?.create.n ? [{ x: p.n, y: p.floor.create.median }] : []));
  const hasFloor = r.density.some((d) => floorPts(d).length > 0);
  panels.push({
    title: 'create (median)', xLabel: 'instances present', yLabel: 'ms', yFormat: ms,
    series: r.density.flatMap((d) => [
      { label: `myaas clone-to-ready (${d.size})`, points: xs(d, (p) => p.create.median) },
      ...(floorPts(d).length ? [{ label: `floor: plain commands, clone-to-first-query (${d.size})`, points: floorPts(d), dashed: true }] : []),
    ]),
    ...(empty ? { target: { y: 1.2 * empty.create.median, label: '1.2 × empty host (myaas)' } } : {}),
  });
  if (hasFloor) {
    // Each against its own empty-host value: how much of the growth the host shows without myaas.
    panels.push({
      title: 'create ÷ its empty-host value', xLabel: 'instances present', yLabel: '× empty host', yFormat: (v) => `${v}×`,
      target: { y: LIMIT, label: `${LIMIT}× (target)` },
      series: r.density.flatMap((d) => {
        const g = densityGrowth(d.points);
        return [
          { label: `myaas clone-to-ready (${d.size})`, points: g.filter((q) => Number.isFinite(q.myaasX)).map((q) => ({ x: q.n, y: q.myaasX })) },
          { label: `floor: plain commands, clone-to-first-query (${d.size})`, points: g.flatMap((q) => (q.floorX !== null ? [{ x: q.n, y: q.floorX }] : [])), dashed: true },
        ];
      }),
    });
  }
  panels.push({
    title: 'GET /api/v1/instances (median)', xLabel: 'instances present', yLabel: 'ms', yFormat: ms, target: { y: 50, label: '50 ms' },
    series: r.density.flatMap((d) => [
      { label: 'first page', points: xs(d, (p) => p.list.firstPage.median) },
      { label: 'all pages', points: xs(d, (p) => p.list.allPages.median), dashed: true },
      { label: '?template=', points: xs(d, (p) => p.list.byTemplate.median) },
      { label: '?owner=', points: xs(d, (p) => p.list.byOwner.median) },
      { label: '?status=ready', points: xs(d, (p) => p.list.byStatus.median) },
    ]),
  });
  panels.push({
    title: 'one reconcile pass (median)', xLabel: 'instances present', yLabel: 'ms', yFormat: ms, target: { y: 1000, label: '1 s' },
    series: r.density.map((d) => ({ label: 'reconcile pass', points: xs(d, (p) => p.pass.median) })),
  });
  panels.push({
    title: 'bench process (controller) RSS', xLabel: 'instances present', yLabel: 'MiB', yFormat: (v) => `${v}`,
    series: r.density.map((d) => ({ label: 'RSS (MiB)', points: xs(d, (p) => Math.round(p.rssBytes / 2 ** 20)) })),
  });
  const loads = r.density.flatMap((d) => d.points.flatMap((p) => (p.calm ? [`${p.n}: ${p.calm.loadAtStart}`] : [])));
  return renderLineChart(
    panels,
    `The controller runs in the bench process: RSS is the controller plus the bench's idle client.${loads.length ? ` 1-minute load when each step's creates began (instances: load): ${loads.join(', ')}.` : ''}`,
    hasFloor ? 300 : 330, 320,
  );
}

/** Wake-to-first-query on suspended instances beside the direct path on running ones. */
export function renderWakeChart(r: Results): string | null {
  const engines = (r.wake ?? []).flatMap((w) => w.engines);
  if (!engines.length) return null;
  const bars: Bar[] = engines.flatMap((e) => [
    { label: `${e.engine}: suspended, median`, segments: [{ label: 'wake-to-first-query (suspended)', value: e.wake.median }] },
    { label: `${e.engine}: suspended, p95`, segments: [{ label: 'wake-to-first-query (suspended)', value: e.wake.p95 }] },
    { label: `${e.engine}: running, median`, segments: [{ label: 'connect + first query (running, direct)', value: e.direct.median }] },
    { label: `${e.engine}: running, p95`, segments: [{ label: 'connect + first query (running, direct)', value: e.direct.p95 }] },
  ]);
  return renderBarChart('Connect + first query: suspended (wakes it) and running instances', bars, ' ms', `Target: ≤ 1000 ms after connecting. ${engines.map((e) => `${e.engine} ${e.rounds} rounds`).join(', ')}.`);
}
