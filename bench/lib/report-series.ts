// results.md sections of issue 12's series: floor under I/O, concurrency, density, wake.
import { calmNote, densityGrowth, growthVerdict } from './density-growth.js';
import type { Results } from './results.js';
import { fmtBytes, fmtMs } from './util.js';

const n1 = (v: number) => (Number.isFinite(v) ? String(Math.round(v * 10) / 10) : '–');

function floorIo(r: Results): string[] {
  if (!r.floorIo?.length) return [];
  const L = [
    '## Floor under background I/O', '',
    'myaas clone-to-ready (POST ?wait, first query, then destroy) and the floor over a published port (btrfs snapshot, `docker create`, `start`, `inspect`, ' +
      'first query retried every 2 ms, then `docker rm -f`) alternate run by run, first quiet, then while a separate process writes 8 MiB chunks ' +
      'with an fsync after each into a file in the pool (removed afterwards). Medians (p95).', '',
    '| size | condition | myaas | floor | myaas / floor | writer |', '|---|---|---:|---:|---:|---:|',
  ];
  for (const f of r.floorIo) {
    for (const s of f.sides) {
      L.push(`| ${f.size} | ${s.condition} | ${fmtMs(s.myaas.total.median)} (${fmtMs(s.myaas.total.p95)}) | ${fmtMs(s.floor.total.median)} (${fmtMs(s.floor.total.p95)}) | ${s.ratio.toFixed(2)}× | ${s.writer ? `${s.writer.mibPerSecond} MiB/s` : '–'} |`);
    }
  }
  L.push(
    '', 'Per phase, medians in ms. myaas: the controller\'s `instance ready` timings (clone, container start, server ready + password rotation, probe), ' +
      'the POST\'s rest (API + state DB) and the client\'s connection and first query. Floor: its commands.', '',
    '| size | condition | myaas clone | start | ready + rotate | probe | API + state DB | client | floor snapshot | create | start | inspect | until query |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const f of r.floorIo) {
    for (const s of f.sides) {
      const p = s.myaas.phases;
      const q = s.floor.phases;
      L.push(`| ${f.size} | ${s.condition} | ${n1(p.clone)} | ${n1(p.start)} | ${n1(p.rotate)} | ${n1(p.probe)} | ${n1(p.api)} | ${n1(p.client)} | ${n1(q.snapshot)} | ${n1(q.create)} | ${n1(q.start)} | ${n1(q.inspect)} | ${n1(q.query)} |`);
    }
  }
  const names = [...new Set(r.floorIo.flatMap((f) => f.sides.flatMap((s) => Object.keys(s.myaas.calls))))].sort();
  const cols = r.floorIo.flatMap((f) => f.sides.map((s) => ({ head: `${f.size} ${s.condition}`, calls: s.myaas.calls })));
  L.push(
    '', 'myaas\'s calls into Docker, the storage driver and the state DB per create (mean ms, mean count; nested calls overlap):', '',
    `| call | ${cols.map((c) => c.head).join(' | ')} |`, `|---|${cols.map(() => '---:').join('|')}|`,
  );
  for (const n of names) L.push(`| \`${n}\` | ${cols.map((c) => (c.calls[n] ? `${c.calls[n].ms} (${c.calls[n].n}×)` : '–')).join(' | ')} |`);
  L.push('', '![myaas and the floor by phase](floor.svg)', '');
  return L;
}

function concurrency(r: Results): string[] {
  if (!r.concurrencySeries?.length) return [];
  const L = [
    '## Concurrency', '',
    'N creates sent at once (POST ?wait=600 each, then a first query on each URL); "all ready" is from the first request until the last query returned. ' +
      'N = 1 is the median of single cold clone-to-ready runs made one after another in the same run. ' +
      '"floor, N at once": right after, N plain-command clone-to-queries (btrfs snapshot, docker create, start, inspect, first query; no controller) started at once, until the last query answered: what the machine itself allows.', '',
    '| size | N | all ready | × one cold clone | floor, N at once | myaas / floor | median instance (p95) | succeeded | failed | errors | destroying all |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
  ];
  for (const c of r.concurrencySeries) {
    for (const p of c.points) {
      L.push(
        `| ${c.size} | ${p.n} | ${fmtMs(p.allReadyMs)} | ${(p.allReadyMs / c.single.median).toFixed(1)}× | ` +
          `${p.floorAllMs ? fmtMs(p.floorAllMs) : '–'} | ${p.floorAllMs ? `${(p.allReadyMs / p.floorAllMs).toFixed(2)}×` : '–'} | ${fmtMs(p.perInstance.median)} (${fmtMs(p.perInstance.p95)}) | ${p.ok} | ${p.failed} | ` +
          `${p.errors.map((e) => `${e.n}× ${e.error.replace(/\|/g, '\\|')}`).join('; ') || '–'} | ${Number.isFinite(p.destroyAllMs) ? fmtMs(p.destroyAllMs) : '–'} |`,
      );
    }
  }
  L.push('', '![time until all are ready against N](concurrency.svg)', '');
  return L;
}

function density(r: Results): string[] {
  if (!r.density?.length) return [];
  const L = [
    '## Density', '',
    'The host is filled with ready instances of the template (created `batch` at a time, POST ?wait), and at each step: clone-to-ready of one more ' +
      '(median of the creates, each destroyed again); `GET /api/v1/instances` (median of 5; first page with the default limit of 100, every page following the ' +
      '`Link` header, first pages filtered by template, by one owner, by status=ready); one reconcile sweep (`controller.sweep()`: orphans both ways, expiry, every ' +
      'live instance converged; median of 3) with the calls it made into the Docker adapter and the state DB; then the bench process idle for a window: its RSS ' +
      'and CPU (the controller runs in-process, so this is the controller plus the bench\'s idle client; the periodic sweep is off in the bench, MYAAS_RECONCILE_INTERVAL=1h).', '',
    '| size | instances | create (× empty) | list first page | all pages | ?template | ?owner | ?status | sweep (p95) | Docker / state DB calls per sweep | RSS | heap | idle CPU | load |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const d of r.density) {
    const empty = d.points.find((p) => p.n === 0)?.create.median;
    for (const p of d.points) {
      const l = p.list;
      L.push(
        `| ${d.size} | ${p.n} | ${fmtMs(p.create.median)}${empty ? ` (${(p.create.median / empty).toFixed(2)}×)` : ''} | ${fmtMs(l.firstPage.median)} | ${fmtMs(l.allPages.median)} (${l.pages}) | ` +
          `${fmtMs(l.byTemplate.median)} | ${fmtMs(l.byOwner.median)} | ${fmtMs(l.byStatus.median)} | ${fmtMs(p.pass.median)} (${fmtMs(p.pass.p95)}) | ` +
          `${p.callsPerPass.docker} / ${p.callsPerPass.statedb} | ${fmtBytes(p.rssBytes)} | ${fmtBytes(p.heapUsedBytes)} | ${p.idleCpuPercent}% | ${p.load} |`,
      );
    }
    const errs = d.points.flatMap((p) => p.fillErrors).concat(d.destroyErrors);
    L.push('', `Destroying all ${Math.max(...d.points.map((p) => p.n))} at the end, ${d.batch} at a time: ${fmtMs(d.destroyAllMs)}.${errs.length ? ` Errors: ${errs.map((e) => `${e.n}× ${e.error}`).join('; ')}.` : ''}`);
    const top = d.points[d.points.length - 1];
    if (top) L.push('', `Calls per sweep at ${top.n} instances: ${Object.entries(top.callsPerPass.byName).map(([k, v]) => `\`${k}\` ${v}`).join(', ') || 'none'}.`);
    L.push(...densityFloor(d));
  }
  L.push('', '![create time, list latency, sweep and memory against the number of instances](density.svg)', '');
  return L;
}

/** The create times beside the plain-command floor's at each step, each against its own empty-host value, and the load. */
function densityFloor(d: NonNullable<Results['density']>[number]): string[] {
  const measured = d.points.some((p) => p.floor || p.calm);
  if (!measured) return [];
  const x = (v: number | null) => (v === null || !Number.isFinite(v) ? '–' : `${v.toFixed(2)}×`);
  const L = [
    '', `Create beside the floor (${d.size}): at each step, with the instances present, myaas's creates and as many plain-command clone-to-first-queries ` +
      '(btrfs snapshot, `docker create`, `start`, `inspect`, first query over a published port; then `docker rm -f` and the snapshot deleted) alternate; ' +
      'medians, each also divided by its own value on the empty host. The floor\'s growth is the host\'s (idle servers, Docker with that many containers, the kernel); ' +
      'what myaas grows beyond it is myaas\'s. Load: the 1-minute load average when the step\'s creates began, and whether the bench first waited for it to fall to the number of cores.', '',
    '| size | instances | myaas create | × empty | floor | × empty | myaas / floor | load at start (calm wait) | load at end | floor failures |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const [i, g] of densityGrowth(d.points).entries()) {
    const p = d.points[i];
    const fe = p.floor?.errors ?? [];
    L.push(
      `| ${d.size} | ${g.n} | ${fmtMs(g.myaasMs)} | ${x(g.myaasX)} | ${g.floorMs === null ? '–' : fmtMs(g.floorMs)} | ${x(g.floorX)} | ${x(g.myaasOverFloor)} | ` +
        `${calmNote(p.calm)} | ${p.load} | ${fe.length ? fe.map((e) => `${e.n}× ${e.error.replace(/\|/g, '\\|')}`).join('; ') : '–'} |`,
    );
  }
  const top = densityGrowth(d.points).at(-1);
  if (top && top.n > 0) L.push('', `At ${top.n} instances: ${growthVerdict(top)}.`);
  return L;
}

function wake(r: Results): string[] {
  if (!r.wake?.length) return [];
  const L = [
    '## Idle suspension: wake latency and memory', '',
    'A controller with MYAAS_IDLE_SUSPEND set. Per engine, rounds of: on the running instance, one connection (postgres.js / mysql2, no retry) and a first query ' +
      '(the direct path); wait until it is suspended; the same again, which wakes it. Timed from before the connection until the query returned.', '',
    '| series | size | engine | suspended: median | p95 | max | running: median | p95 | rounds | failed wakes |', '|---|---|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const w of r.wake) {
    for (const e of w.engines) {
      L.push(`| ${w.series} | ${e.size} | ${e.engine} | ${fmtMs(e.wake.median)} | ${fmtMs(e.wake.p95)} | ${fmtMs(e.wake.max)} | ${fmtMs(e.direct.median)} | ${fmtMs(e.direct.p95)} | ${e.rounds} | ${e.failures.map((f) => `${f.n}× ${f.error}`).join('; ') || '0'} |`);
    }
  }
  for (const w of r.wake) {
    const m = w.memory;
    if (!m) continue;
    L.push(
      '', `Memory of ${m.instances} instances (half of each engine; each held busy by an open connection while the others were made), container memory as \`docker stats\` counts it, summed:`, '',
      '| state | containers running | their memory | per instance | bench process RSS |', '|---|---:|---:|---:|---:|',
      `| all running | ${m.allRunning.containers} | ${fmtBytes(m.allRunning.bytes)} | ${fmtBytes(m.allRunning.bytes / Math.max(1, m.instances))} | ${fmtBytes(m.allRunning.processRssBytes)} |`,
      `| ${m.mostlySuspended.suspended} suspended, 2 held | ${m.mostlySuspended.containers} | ${fmtBytes(m.mostlySuspended.bytes)} | ${fmtBytes(m.mostlySuspended.bytes / Math.max(1, m.instances))} | ${fmtBytes(m.mostlySuspended.processRssBytes)} |`,
      '', `All but two suspended ${fmtMs(m.suspendAllMs)} after their connections closed.${m.createErrors.length ? ` Creates that failed: ${m.createErrors.map((e) => `${e.n}× ${e.error}`).join('; ')}.` : ''}`,
    );
  }
  L.push('', '![wake-to-first-query beside the direct path](wake.svg)', '');
  return L;
}

export function seriesMarkdown(r: Results): string[] {
  return [...floorIo(r), ...concurrency(r), ...density(r), ...wake(r)];
}
