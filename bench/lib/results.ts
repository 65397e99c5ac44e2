// The shape of bench/results/results.json and the issue's targets, judged from it.
import type { AltResult } from './alternatives.js';
import type { Dataset } from './datasets.js';
import { calmNote, densityGrowth, growthVerdict } from './density-growth.js';
import type { FloorResult } from './floor.js';
import type { FloorIoResult } from './floor-io.js';
import type { ConcurrencySeriesResult, DensityResult } from './scale.js';
import type { WakeResult } from './wake.js';
import type { Machine } from './machine.js';
import type { CloneResult, ConcurrencyResult, ResourceResult } from './myaas.js';
import { fmtBytes, fmtMs } from './util.js';

export interface ImportResult {
  series: string;
  size: string;
  /** from the import request until the version was ready */
  ms: number;
  sizeBytes: number;
  /** elapsed ms at which each import phase began */
  phases: Record<string, number>;
}

export interface Results {
  schema: 1;
  startedAt: string;
  finishedAt?: string;
  quick: boolean;
  options: Record<string, unknown>;
  machine: Machine;
  code: { commit: string; controllerDirty: boolean };
  settings: Record<string, unknown>;
  datasets: Dataset[];
  imports: ImportResult[];
  clone: CloneResult[];
  resources: ResourceResult[];
  concurrency: ConcurrencyResult[];
  floor: FloorResult[];
  alternatives: AltResult[];
  /** the series of issue 12 (absent in results written before them) */
  floorIo?: FloorIoResult[];
  concurrencySeries?: ConcurrencySeriesResult[];
  density?: DensityResult[];
  wake?: WakeResult[];
  targets: Target[];
  errors: string[];
}

export interface Target {
  target: string;
  measured: string;
  /** null: not measured in this run */
  met: boolean | null;
}

export const PRIMARY = 'btrfs';

export const cloneOf = (r: Results, series: string, size: string) => r.clone.find((c) => c.driver === series && c.size === size);
export const altOf = (r: Results, method: string, size: string) => r.alternatives.find((a) => a.method === method && a.size === size);
const ratio = (a: number, b: number) => `${(a / b).toFixed(a / b >= 10 ? 0 : 1)}×`;

/** The same figure for the other btrfs series (variants of the shipped defaults), for the record. */
function variants(r: Results, size: string, show: (median: number) => string): string {
  const v = r.clone.filter((c) => c.size === size && c.driver.startsWith(`${PRIMARY}, `));
  return v.map((c) => `; ${c.driver.slice(PRIMARY.length + 2)}: ${show(c.stats.total.median)}`).join('');
}

export function judgeTargets(r: Results): Target[] {
  const t: Target[] = [];
  const pgSizes = ['pg-s10', 'pg-s100', 'pg-s400'];
  const my = ['my-s1', 'my-s10'];
  for (const s of pgSizes) {
    const c = cloneOf(r, PRIMARY, s);
    t.push({
      target: `PostgreSQL clone-to-ready median ≤ 0.6 s (${s})`,
      measured: c ? `${fmtMs(c.stats.total.median)} (p95 ${fmtMs(c.stats.total.p95)})${variants(r, s, fmtMs)}` : 'not measured',
      met: c ? c.stats.total.median <= 600 : null,
    });
  }
  const small = cloneOf(r, PRIMARY, 'pg-s10');
  const big = cloneOf(r, PRIMARY, 'pg-s400');
  t.push({
    target: '6 GB template within 1.15× of the 150 MB one',
    measured: small && big ? `${fmtMs(big.stats.total.median)} vs ${fmtMs(small.stats.total.median)}: ${(big.stats.total.median / small.stats.total.median).toFixed(2)}×` : 'not measured',
    met: small && big ? big.stats.total.median <= 1.15 * small.stats.total.median : null,
  });
  for (const [s, want] of [['pg-s100', 50], ['pg-s400', 100]] as const) {
    const c = cloneOf(r, PRIMARY, s);
    const a = altOf(r, 'pg_restore -j 2', s);
    t.push({
      target: `≥ ${want}× faster than pg_restore (${s})`,
      measured: c && a ? `${fmtMs(a.stats.median)} / ${fmtMs(c.stats.total.median)} = ${ratio(a.stats.median, c.stats.total.median)}${variants(r, s, (m) => ratio(a.stats.median, m))}` : 'not measured',
      met: c && a ? a.stats.median / c.stats.total.median >= want : null,
    });
  }
  {
    const c = cloneOf(r, PRIMARY, 'pg-s100');
    const alts = ['FILE_COPY', 'WAL_LOG'].map((x) => altOf(r, `CREATE DATABASE … TEMPLATE (${x})`, 'pg-s100')).filter((x): x is AltResult => !!x);
    const best = alts.sort((x, y) => x.stats.median - y.stats.median)[0];
    t.push({
      target: 'faster than CREATE DATABASE … TEMPLATE (pg-s100, faster strategy)',
      measured: c && best ? `${fmtMs(c.stats.total.median)} vs ${fmtMs(best.stats.median)} (${best.method.replace('CREATE DATABASE … TEMPLATE ', '')})` : 'not measured',
      met: c && best ? c.stats.total.median < best.stats.median : null,
    });
  }
  for (const s of my) {
    const c = cloneOf(r, PRIMARY, s);
    t.push({
      target: `MariaDB clone-to-ready median ≤ 1 s (${s})`,
      measured: c ? `${fmtMs(c.stats.total.median)} (p95 ${fmtMs(c.stats.total.p95)})${variants(r, s, fmtMs)}` : 'not measured',
      met: c ? c.stats.total.median <= 1000 : null,
    });
  }
  const conc = r.concurrency.find((c) => c.driver === PRIMARY && c.size.startsWith('pg-')) ?? r.concurrency[0];
  t.push({
    target: `${conc?.n ?? 20} concurrent requests all ready ≤ 5 s`,
    measured: conc
      ? `${fmtMs(conc.allReadyMs)} (${conc.driver}, ${conc.size}, n=${conc.n})${r.concurrency.filter((c) => c !== conc).map((c) => `; ${c.driver}: ${fmtMs(c.allReadyMs)}`).join('')}`
      : 'not measured',
    met: conc ? conc.n >= 20 && conc.allReadyMs <= 5000 : null,
  });
  for (const [engine, prefix] of [['PostgreSQL', 'pg-'], ['MariaDB', 'my-']] as const) {
    const mem = r.resources.filter((x) => x.size.startsWith(prefix) && x.memory).map((x) => x.memory!.usedBytes);
    const conc = r.concurrency.find((c) => c.size.startsWith(prefix))?.idleRssBytes;
    const worst = Math.max(...mem, conc?.median ?? 0);
    t.push({
      target: `idle ${engine} instance ≤ 40 MB (container memory as docker stats counts it)`,
      measured: mem.length ? `max over sizes and series ${fmtBytes(Math.max(...mem))}${conc ? `; median of ${conc.n} concurrent ones ${fmtBytes(conc.median)}` : ''}` : 'not measured',
      met: mem.length ? worst <= 40 * 1024 * 1024 : null,
    });
  }
  for (const [engine, prefix] of [['PostgreSQL', 'pg-'], ['MariaDB', 'my-']] as const) {
    const disk = r.resources.filter((x) => x.driver === PRIMARY && x.size.startsWith(prefix) && x.disk.exclusiveBytes !== null).map((x) => x.disk.exclusiveBytes!);
    t.push({
      target: `fresh ${engine} clone ≤ 1 MB of new disk (btrfs exclusive bytes after the first query and 5 s idle)`,
      measured: disk.length ? `max ${fmtBytes(Math.max(...disk))} over ${disk.length} sizes` : 'not measured',
      met: disk.length ? Math.max(...disk) <= 1024 * 1024 : null,
    });
  }
  const warm = r.clone.filter((c) => c.driver.includes('warm'));
  // The hand-out is the POST (claim, fresh password, readiness probe); the client's own first connection comes on top.
  t.push({
    target: 'warm pool hand-out (POST ?wait) ≤ 50 ms median',
    measured: warm.length
      ? warm.map((w) => `${w.size}: ${fmtMs(w.stats.api.median)} (p95 ${fmtMs(w.stats.api.p95)}; to the first client query ${fmtMs(w.stats.total.median)})`).join(', ')
      : 'not measured (--warm-pool 0)',
    met: warm.length ? warm.every((w) => w.stats.api.median <= 50) : null,
  });
  t.push(...seriesTargets(r));
  return t;
}

/** Issue 12's targets: floor under I/O, concurrency, density, wake. Judged, never fatal. */
export function seriesTargets(r: Results): Target[] {
  const t: Target[] = [];
  const x = (a: number) => `${a.toFixed(2)}×`;
  for (const f of r.floorIo ?? []) {
    const q = f.sides.find((s) => s.condition === 'quiet');
    const io = f.sides.find((s) => s.condition === 'under I/O');
    t.push({
      target: `cold clone-to-ready within 1.15× of the floor under background I/O (${f.size}, ${f.series})`,
      measured: io
        ? `${fmtMs(io.myaas.total.median)} vs floor ${fmtMs(io.floor.total.median)}: ${x(io.ratio)} under I/O${q ? `; quiet ${fmtMs(q.myaas.total.median)} vs ${fmtMs(q.floor.total.median)}: ${x(q.ratio)}` : ''} (${f.runs} interleaved runs each)`
        : 'not measured',
      met: io ? io.ratio <= 1.15 : null,
    });
  }
  for (const c of r.concurrencySeries ?? []) {
    const p20 = c.points.find((p) => p.n === 20);
    t.push({
      target: `20 simultaneous requests all ready within 2.5× a single cold clone-to-ready (${c.size})`,
      measured: p20
        ? `${fmtMs(p20.allReadyMs)} vs ${fmtMs(c.single.median)}: ${x(p20.allReadyMs / c.single.median)}${p20.failed ? `; ${p20.failed} failed` : ''}`
        : `not measured (n = ${c.points.map((p) => p.n).join(', ')})`,
      met: p20 ? p20.failed === 0 && p20.allReadyMs <= 2.5 * c.single.median : null,
    });
    const p100 = c.points.find((p) => p.n === 100);
    t.push({
      target: `100 simultaneous requests all succeed (${c.size})`,
      measured: p100
        ? `${p100.ok} of 100 ready, the last after ${fmtMs(p100.allReadyMs)}${p100.errors.length ? `; errors: ${p100.errors.map((e) => `${e.n}× ${e.error}`).join('; ')}` : ''}`
        : `not measured (n = ${c.points.map((p) => p.n).join(', ')})`,
      met: p100 ? p100.failed === 0 : null,
    });
  }
  for (const d of r.density ?? []) {
    const empty = d.points.find((p) => p.n === 0);
    const top = d.points[d.points.length - 1];
    const at = top ? `at ${top.n} instances` : '';
    const valid = !!top && top.n > 0;
    // The floor's own growth beside it: whether the host or myaas stands between the step and the target.
    const g = valid ? densityGrowth(d.points).at(-1) : undefined;
    const floorPart = g && empty && g.floorMs !== null && g.floorX !== null
      ? `; floor (plain commands) ${fmtMs(g.floorMs)} vs ${fmtMs(densityGrowth(d.points).find((q) => q.n === 0)?.floorMs ?? NaN)} empty: ${x(g.floorX)}; ${growthVerdict(g)}`
      : '; floor not measured';
    t.push({
      target: `create with N instances present ≤ 1.2× an empty host (${d.size})`,
      measured: valid && empty
        ? `${fmtMs(top.create.median)} ${at} vs ${fmtMs(empty.create.median)} empty: ${x(top.create.median / empty.create.median)}${floorPart}` +
          `${top.calm ? `; load at start ${calmNote(top.calm)}` : ''}`
        : 'not measured',
      met: valid && empty ? top.create.median <= 1.2 * empty.create.median : null,
    });
    const lists = top ? { 'first page': top.list.firstPage, template: top.list.byTemplate, owner: top.list.byOwner, status: top.list.byStatus } : {};
    const worst = Math.max(...Object.values(lists).map((s) => s.median));
    t.push({
      target: `GET /instances ≤ 50 ms with N instances present (first page and filtered by template, owner, status; median)`,
      measured: valid
        ? `${at}: ${Object.entries(lists).map(([k, s]) => `${k} ${fmtMs(s.median)}`).join(', ')}; all ${top.list.pages} pages ${fmtMs(top.list.allPages.median)}`
        : 'not measured',
      met: valid ? worst <= 50 : null,
    });
    t.push({
      target: `one reconcile pass ≤ 1 s with N instances present, Docker calls per pass not growing with N`,
      measured: valid ? `${at}: ${fmtMs(top.pass.median)} (p95 ${fmtMs(top.pass.p95)}), ${top.callsPerPass.docker} Docker calls per pass${empty ? ` (empty host: ${empty.callsPerPass.docker})` : ''}` : 'not measured',
      met: valid ? top.pass.median <= 1000 && (!empty || top.callsPerPass.docker <= empty.callsPerPass.docker + 1) : null,
    });
  }
  for (const w of r.wake ?? []) {
    for (const e of w.engines) {
      t.push({
        target: `first query on a suspended ${e.engine} instance within 1 s of connecting, no client error (${e.size})`,
        measured: `median ${fmtMs(e.wake.median)}, p95 ${fmtMs(e.wake.p95)}, max ${fmtMs(e.wake.max)} over ${e.rounds} rounds${e.failures.length ? `; ${e.failures.reduce((a, f) => a + f.n, 0)} failed: ${e.failures[0].error}` : ''}; running ${fmtMs(e.direct.median)}`,
        met: e.failures.length === 0 && e.wake.n > 0 && e.wake.p95 <= 1000,
      });
    }
  }
  return t;
}
