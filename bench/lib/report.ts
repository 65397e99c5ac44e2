// bench/results/results.md: the tables the README embeds, the targets, the profile and the setup.
import { SIZES, type SizeSpec } from './options.js';
import { seriesMarkdown } from './report-series.js';
import { altOf, cloneOf, PRIMARY, type Results } from './results.js';
import { fmtBytes, fmtMs, stats } from './util.js';

const sizeOf = (id: string) => SIZES.find((s) => s.id === id) as SizeSpec;

function datadir(r: Results, size: string): string {
  const imp = r.imports.find((i) => i.size === size && i.series === PRIMARY) ?? r.imports.find((i) => i.size === size);
  return imp ? fmtBytes(imp.sizeBytes) : '?';
}

/** Every method measured at one of `sizes`, in the order a reader compares them. */
function methods(r: Results, sizes: string[]): Array<{ label: string; get: (size: string) => { median: number; p95: number } | null }> {
  const series = [...new Set(r.clone.filter((c) => sizes.includes(c.size)).map((c) => c.driver))];
  const out = series.map((d) => ({ label: `**myaas** clone-to-ready (${d})`, get: (s: string) => { const c = cloneOf(r, d, s); return c ? c.stats.total : null; } }));
  const alts = [...new Set(r.alternatives.filter((a) => sizes.includes(a.size)).map((a) => a.method))];
  return [...out, ...alts.map((m) => ({ label: m, get: (s: string) => altOf(r, m, s)?.stats ?? null }))];
}

function timeTable(r: Results, engine: 'postgres' | 'mariadb'): string[] {
  const sizes = [...new Set([...r.clone.map((c) => c.size), ...r.alternatives.map((a) => a.size)])]
    .filter((s) => sizeOf(s)?.engine === engine)
    .sort((a, b) => SIZES.findIndex((x) => x.id === a) - SIZES.findIndex((x) => x.id === b));
  if (sizes.length === 0) return [];
  const head = `| method | ${sizes.map((s) => `${sizeOf(s).label} (${s}, datadir ${datadir(r, s)})`).join(' | ')} |`;
  const lines = [head, `|---|${sizes.map(() => '---:').join('|')}|`];
  for (const m of methods(r, sizes)) {
    const cells = sizes.map((s) => {
      const v = m.get(s);
      if (!v) return '–';
      const base = cloneOf(r, PRIMARY, s)?.stats.total.median;
      const ratio = base && !m.label.includes(`(${PRIMARY})`) ? ` · ${(v.median / base).toFixed(v.median / base >= 10 ? 0 : 1)}×` : '';
      return `${fmtMs(v.median)} (p95 ${fmtMs(v.p95)})${ratio}`;
    });
    lines.push(`| ${m.label} | ${cells.join(' | ')} |`);
  }
  return lines;
}

/** Mean time per request spent in each instrumented call, over the runs of one series. */
function callMeans(runs: Results['clone'][number]['runs']): Map<string, { ms: number; n: number }> {
  const out = new Map<string, { ms: number; n: number }>();
  for (const run of runs) {
    for (const [name, v] of Object.entries(run.calls)) {
      const e = out.get(name) ?? { ms: 0, n: 0 };
      e.ms += v.ms / runs.length;
      e.n += v.n / runs.length;
      out.set(name, e);
    }
  }
  return out;
}

function profile(r: Results): string[] {
  const rows = r.clone.filter((c) => c.driver === PRIMARY || c.driver.startsWith(`${PRIMARY}, `));
  if (!rows.length) return [];
  const med = (x: number) => (Number.isFinite(x) ? String(Math.round(x * 10) / 10) : '–');
  const lines = [
    `Medians over the clone-to-ready runs on ${PRIMARY}, in ms. The controller logs the first four per instance (\`instance ready\`;`,
    'a warm-pool claim provisions nothing, so it has none); "API + state DB" is the POST\'s duration less the controller\'s provisioning total;',
    '"client" is the bench\'s own connection and first query (postgres.js with its defaults, mysql2).',
    '',
    '| series | size | clone | container start | engine ready + password rotation | probe | API + state DB | client | total |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const c of rows) {
    const api = stats(c.runs.map((x) => x.apiMs - (x.controller?.totalMs ?? 0))).median;
    lines.push(`| ${c.driver} | ${c.size} | ${med(c.stats.clone.median)} | ${med(c.stats.start.median)} | ${med(c.stats.rotate.median)} | ${med(c.stats.probe.median)} | ${med(api)} | ${med(c.stats.client.median)} | ${med(c.stats.total.median)} |`);
  }
  const series = [...new Set(rows.map((c) => c.driver))];
  const means = new Map(series.map((d) => [d, callMeans(rows.filter((c) => c.driver === d).flatMap((c) => c.runs))]));
  const names = [...new Set([...means.values()].flatMap((m) => [...m.keys()]))].sort((a, b) => (means.get(PRIMARY)?.get(b)?.ms ?? 0) - (means.get(PRIMARY)?.get(a)?.ms ?? 0));
  lines.push(
    '', 'Calls into Docker, the storage driver and the state DB while serving one create (mean ms per request over all sizes, with the mean number of calls; nested calls overlap). ' +
      'The engine\'s own work (password rotation, probe) is not instrumented: it is the rest of the POST.',
    '', `| call | ${series.join(' | ')} |`, `|---|${series.map(() => '---:').join('|')}|`,
  );
  for (const n of names) lines.push(`| \`${n}\` | ${series.map((d) => { const v = means.get(d)?.get(n); return v ? `${v.ms.toFixed(1)} (${v.n.toFixed(1)}×)` : '–'; }).join(' | ')} |`);
  if (r.floor.length) {
    lines.push(
      '', 'The floor: the same steps with plain commands and no controller (btrfs snapshot, `docker create`, `start`, `inspect`, then an authenticated query retried every 2 ms; then `docker rm -f`), ' +
        'with the network set-up myaas uses (own namespace, published port) and two others: the host\'s namespace, and a namespace shared with a long-running holder container (`--network container:<id>`). Medians in ms:',
      '', '| size | network | snapshot | create | start | inspect | until query | total | remove |', '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const f of r.floor) {
      for (const [via, s] of Object.entries(f.stats)) {
        lines.push(`| ${f.size} | ${via} | ${s.snapshotMs.median} | ${s.createMs.median} | ${s.startMs.median} | ${s.inspectMs.median} | ${s.queryMs.median} | ${s.totalMs.median} | ${s.removeMs.median} |`);
      }
    }
  }
  return lines;
}

function operations(r: Results): string[] {
  const lines = ['| series | size | import | reset (to first query) median / p95 | destroy median / p95 | warm-up run | load average before → after |', '|---|---|---:|---:|---:|---:|---|'];
  for (const c of r.clone) {
    const imp = r.imports.find((i) => i.series === c.driver && i.size === c.size);
    lines.push(`| ${c.driver} | ${c.size} | ${imp ? fmtMs(imp.ms) : '–'} | ${fmtMs(c.stats.reset.median)} / ${fmtMs(c.stats.reset.p95)} | ${fmtMs(c.stats.destroy.median)} / ${fmtMs(c.stats.destroy.p95)} | ${c.warmup ? fmtMs(c.warmup.totalMs) : '–'} | ${c.load ? `${c.load[0]} → ${c.load[1]}` : '–'} |`);
  }
  return lines;
}

export function renderMarkdown(r: Results): string {
  const m = r.machine;
  const L: string[] = [];
  L.push('# myaas benchmark results', '');
  L.push(`Measured by \`npm run bench${r.quick ? ' -- --quick' : ''}\` in one run, ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC to ${(r.finishedAt ?? '').slice(11, 16)} UTC${r.quick ? ' (quick smoke run: fewer sizes and runs)' : ''}.`);
  if (r.code) L.push('', `Code: commit \`${r.code.commit.slice(0, 12)}\`${r.code.controllerDirty ? ' with uncommitted changes under controller/' : ''}.`);
  L.push('', `Machine: ${m.cpuModel}, ${m.cores} cores, ${fmtBytes(m.memoryBytes)} RAM, ${m.os}, kernel ${m.kernel}, Docker ${m.docker.version} (${m.docker.storageDriver}, cgroup ${m.docker.cgroup}), Node ${m.node}. ` +
    `Storage: ${m.storage.map((s) => `${s.path} ${s.fs} on ${s.device}`).join('; ')}. Engines: ${Object.values(m.images).join('; ')}. ` +
    `Load average at start ${m.loadAverage.atStart.join(' / ')}${m.loadAverage.atEnd ? `, at end ${m.loadAverage.atEnd.join(' / ')}` : ''} (other work on the machine shares its 2 cores).`);
  L.push('', '## Time to a loaded, queryable database', '');
  L.push('Median (p95); `×` is the median divided by myaas on btrfs at the same size. Every method ends when a query on the new database has succeeded; page cache warm.', '');
  for (const e of ['postgres', 'mariadb'] as const) {
    const t = timeTable(r, e);
    if (t.length) L.push(`### ${e === 'postgres' ? 'PostgreSQL (pgbench data)' : 'MariaDB (generated orders data)'}`, '', ...t, '');
  }
  L.push('![time to a loaded database against data size](chart.svg)', '');
  L.push('## Targets', '', '| target | measured | met |', '|---|---|---|');
  for (const t of r.targets) L.push(`| ${t.target} | ${t.measured} | ${t.met === null ? 'not measured' : t.met ? 'met' : '**not met**'} |`);
  L.push('', '## Where the milliseconds go', '', ...profile(r));
  L.push('', '## Import, reset, destroy', '', ...operations(r));
  if (r.concurrency.length) {
    L.push('', '## Concurrency and footprint', '', '| series | size | instances requested at once | all accepting queries after | idle memory per instance (median, min–max) | destroying all |', '|---|---|---:|---:|---:|---:|');
    for (const c of r.concurrency) L.push(`| ${c.driver} | ${c.size} | ${c.n} | ${fmtMs(c.allReadyMs)} | ${fmtBytes(c.idleRssBytes.median)} (${fmtBytes(c.idleRssBytes.min)}–${fmtBytes(c.idleRssBytes.max)}) | ${fmtMs(c.destroyAllMs)} |`);
  }
  L.push('', '| series | size | idle memory (docker stats) | of which anon (rss) / page cache | new disk of a fresh clone (btrfs exclusive) | pool df delta |', '|---|---|---:|---:|---:|---:|');
  for (const x of r.resources) {
    const mm = x.memory;
    L.push(`| ${x.driver} | ${x.size} | ${fmtBytes(mm?.usedBytes)} | ${fmtBytes(mm?.anonBytes)} / ${fmtBytes(mm?.fileBytes)} | ${x.disk.exclusiveBytes === null ? '–' : fmtBytes(x.disk.exclusiveBytes)} | ${fmtBytes(x.disk.dfDeltaBytes)} |`);
  }
  const more = seriesMarkdown(r);
  if (more.length) L.push('', ...more);
  L.push('', '## Data sets', '', '| size | engine | database | dump the controller imports | plain SQL dump | generation / dump time (cache build) |', '|---|---|---:|---:|---:|---:|');
  for (const d of r.datasets) L.push(`| ${d.id} | ${d.engine} | ${fmtBytes(d.dbBytes)} | ${fmtBytes(d.dumpBytes)} | ${fmtBytes(d.plainBytes)} | ${fmtMs(d.buildMs.generate)} / ${fmtMs(d.buildMs.dump)} |`);
  L.push('', '## How it was measured', '');
  for (const [k, v] of Object.entries(r.settings)) L.push(`- **${k}**: ${String(v)}`);
  if (r.errors.length) L.push('', '## Errors', '', ...r.errors.map((e) => `- ${e}`));
  return `${L.join('\n')}\n`;
}
