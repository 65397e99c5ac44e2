// `npm run bench`: builds (or finds cached) dumps, imports them through a real controller on each
// storage driver, measures clone-to-ready, reset, destroy, concurrency, memory and disk through the
// HTTP API, measures the alternatives on the same data, and writes bench/results/.
import { mkdir, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { createEngine } from '../controller/engines/index.js';
import { systemClock } from '../controller/lib/clock.js';
import { mariadbAlternatives, postgresAlternatives, type AltContext, type TemplateInfo } from './lib/alternatives.js';
import { renderChart } from './lib/chart.js';
import { renderConcurrencyChart, renderDensityChart, renderFloorChart, renderWakeChart } from './lib/chart-series.js';
import { measureFloorIo } from './lib/floor-io.js';
import { measureConcurrencySeries, measureDensity } from './lib/scale.js';
import { measureWake } from './lib/wake.js';
import { ensureDataset, type Dataset } from './lib/datasets.js';
import { alive, benchRuntime, removeBenchContainers } from './lib/docker.js';
import { measureFloor, openFloorRig } from './lib/floor.js';
import { importTemplate, removeStaleDataDirs, seriesName, startBenchController, waitWarm, type BenchController, type Variant } from './lib/harness.js';
import { describeMachine } from './lib/machine.js';
import { measureCloneToReady, measureConcurrency, measureResources } from './lib/myaas.js';
import { parseOptions, type Driver, type Options, type SizeSpec } from './lib/options.js';
import type { Runtime } from '../controller/runtime/runtime.js';
import { renderMarkdown } from './lib/report.js';
import { judgeTargets, type Results } from './lib/results.js';
import { calmLimit, cmd, compactJson, fmtBytes, fmtMs, say } from './lib/util.js';

const BTRFS_MAGIC = 0x9123683e;
const XFS_MAGIC = 0x58465342;

async function fsMagic(dir: string): Promise<number | null> {
  return statfs(dir).then((s) => s.type, () => null);
}

/** What a controller variant is started for: the original series, the scale series (floor under I/O, concurrency, density) or wake. */
type Job = 'clone' | 'scale' | 'wake';

interface Group {
  driver: Driver;
  pool: string;
  sizes: SizeSpec[];
  /** controllers run one after another on the same data dir (the templates are imported by the first) */
  variants: Array<Variant & { job: Job }>;
}

const IDLE_SUSPEND = '2s';

/** MYAAS_MAX_INSTANCES of the scale and wake controllers: room for every instance they make at once, and a few more. */
const capacity = (o: Options) => Math.max(100, ...o.densitySteps.map((n) => n + 20), ...o.concurrencyNs.map((n) => n + 20), o.wakeInstances + 20);

const smallestOf = (sizes: SizeSpec[]) =>
  (['postgres', 'mariadb'] as const).map((e) => sizes.find((s) => s.engine === e)).filter((s): s is SizeSpec => !!s);

/** What to measure: per storage driver its pool, sizes and controller variants. */
async function plan(o: Options): Promise<Group[]> {
  const btrfs = (await fsMagic(o.pools.btrfs)) === BTRFS_MAGIC;
  const xfs = (await fsMagic(o.pools.xfs)) === XFS_MAGIC;
  const out: Group[] = [];
  for (const d of o.drivers) {
    if (d === 'btrfs' && !btrfs) say(`skipping btrfs: ${o.pools.btrfs} is not btrfs (sudo scripts/setup-host.sh makes the pools)`);
    else if (d === 'reflink' && !xfs) say(`skipping reflink: ${o.pools.xfs} is not XFS`);
    else {
      const pool = d === 'btrfs' ? o.pools.btrfs : xfs ? o.pools.xfs : o.pools.btrfs;
      const sizes = d === 'copy' ? o.sizes.filter((s) => o.copySizes.includes(s.id)) : o.sizes;
      const variants: Group['variants'] = [];
      const has = (x: string) => o.series.includes(x as Options['series'][number]);
      if (has('clone')) {
        variants.push({ job: 'clone' });
        if (d === 'btrfs' && o.hostNetwork) variants.push({ network: 'host', job: 'clone' });
        if (d === 'btrfs' && o.warmPool > 0) variants.push({ warmPool: o.warmPool, job: 'clone' });
      }
      if (d === 'btrfs' && (has('floor-io') || has('concurrency') || has('density'))) variants.push({ maxInstances: capacity(o), job: 'scale' });
      if (d === 'btrfs' && has('wake')) variants.push({ maxInstances: capacity(o), idleSuspend: IDLE_SUSPEND, job: 'wake' });
      if (variants.length) out.push({ driver: d, pool, sizes, variants });
    }
  }
  return out;
}

const seriesCharts = (r: Results) => ({
  'floor.svg': renderFloorChart(r),
  'concurrency.svg': renderConcurrencyChart(r),
  'density.svg': renderDensityChart(r),
  'wake.svg': renderWakeChart(r),
});

/** The commit measured, and whether controller/ had uncommitted changes when the run started. */
async function codeVersion(): Promise<{ commit: string; controllerDirty: boolean }> {
  const commit = (await cmd('git', ['rev-parse', 'HEAD']).catch(() => 'unknown')).trim();
  const dirty = (await cmd('git', ['status', '--porcelain', '--', 'controller']).catch(() => '')).trim() !== '';
  return { commit, controllerDirty: dirty };
}

async function templateInfo(bc: BenchController, template: string): Promise<TemplateInfo> {
  const v = await bc.controller.store.latestReady(template);
  if (!v?.database) throw new Error(`template ${template} has no ready version`);
  return { dir: join(bc.dataDir, 'templates', template, v.id), adminPassword: v.adminPassword, database: v.database };
}

function settings(o: Options): Record<string, string> {
  const pg = createEngine('postgres', systemClock()).serverCommand('instance', '/tmp').join(' ');
  const my = createEngine('mariadb', systemClock()).serverCommand('instance', '/tmp').join(' ');
  return {
    'clone-to-ready':
      'POST /api/v1/instances?wait=60 with an API token, then a new postgres.js / mysql2 connection to the returned URL runs ' +
      '`select count(*) from pgbench_branches` / `SELECT COUNT(*) FROM customers WHERE id <= 10`; timed from before the POST until that query returned. ' +
      `One warm-up run per series and size is not counted; ${o.runs} counted runs. Each run then writes a table, resets (POST …/reset?wait=60, timed until a query shows the table gone) and destroys (DELETE ?wait=60).`,
    series:
      '"btrfs", "reflink", "copy": the controller with its shipped defaults on that storage driver (bridge network: own network namespace, port published by Docker).' +
      (o.hostNetwork ? ' "btrfs, host network": the same templates, MYAAS_NETWORK=host.' : '') +
      (o.warmPool > 0
        ? ` "btrfs, warm pool ${o.warmPool}": MYAAS_WARM_POOL=${o.warmPool}; before each run the bench waits until the pool is full again, so the create claims a warm instance ` +
          '(fresh password, readiness probe); its reset and destroy are those of the claimed instance.'
        : ''),
    controller:
      'built in-process exactly as `myaas serve` builds it (buildController, Hono on 127.0.0.1), data dir a fresh subdirectory of the pool, ' +
      `shipped defaults: MYAAS_MEMORY_LIMIT=1g, MYAAS_CPUS=1, PGlite state DB in the data dir, reconciler concurrency ${process.env.MYAAS_PROVISION_CONCURRENCY ?? 8} (MYAAS_PROVISION_CONCURRENCY)`,
    'instance server (PostgreSQL)': `\`${pg}\` — fsync and the other durability settings stay as the template has them (PostgreSQL defaults)`,
    'instance server (MariaDB)': `\`${my}\``,
    alternatives:
      'a fresh server of the same image in its own container, tuned for bulk loading (PostgreSQL: fsync=off, full_page_writes=off, synchronous_commit=off, ' +
      'wal_level=minimal, shared_buffers=256MB, maintenance_work_mem=256MB; MariaDB: innodb_flush_log_at_trx_commit=0, doublewrite off, 512M buffer pool and redo log), ' +
      'no memory or CPU limit, the client inside the server\'s container on its Unix socket, the server\'s own start not counted: the alternatives\' best case. ' +
      `pg_restore and psql start with createdb; CREATE DATABASE copies the database the first pg_restore made and is timed until a query on the copy succeeds; ` +
      `"full copy + start" is \`cp -a --reflink=never\` of the template's datadir (btrfs pool) into ${o.scratch} plus a container started like a myaas instance, timed until an authenticated query succeeds.`,
    runs: `${o.runs} per myaas series and size; ${o.altRuns} per loading alternative (at most 2 above 3 GB); copying alternatives ${o.quick ? 1 : Math.max(o.altRuns, 5)} (at most 3 above 3 GB)`,
    load: `before each series the bench waits (at most ${o.quick ? 30 : 300} s) until the 1-minute load average is at most the number of cores; the load before and after each series is in the tables`,
    caches: 'dumps built once and cached in ' + o.cache + '; all timings with a warm page cache (24 GiB RAM holds every data set)',
    'series measured': o.series.join(', '),
    ...(o.series.some((x) => x !== 'clone')
      ? {
          'scale and wake controllers':
            `btrfs, shipped defaults except MYAAS_MAX_INSTANCES=${capacity(o)} (the default cap of 100 would queue the density series); the wake controller adds MYAAS_IDLE_SUSPEND=${IDLE_SUSPEND}. ` +
            'Both on the data dir whose templates the first btrfs controller imported.',
        }
      : {}),
    ...(o.series.includes('floor-io')
      ? { 'floor under I/O': `smallest size of each engine; ${o.floorIoRuns} myaas and ${o.floorIoRuns} floor runs per condition, alternating, after one uncounted run of each; the background writer is a separate Node process (8 MiB chunks, fsync after each, over a 512 MiB file in the pool)` }
      : {}),
    ...(o.series.includes('concurrency') ? { 'concurrency series': `smallest PostgreSQL size; N = ${o.concurrencyNs.join(', ')} (N = 1: median of 3 single runs after one uncounted)` } : {}),
    ...(o.series.includes('density')
      ? {
          density:
            `smallest PostgreSQL size; steps ${o.densitySteps.join(', ')} instances, filled ${o.quick ? 10 : 20} at a time; one uncounted create and floor run first; ` +
            `${o.densityCreates} creates per step, each followed or preceded (alternating) by a plain-command floor run; idle window ${o.densityIdleMs / 1000} s; ` +
            (o.quick ? 'no wait for a calm machine before each step (quick)' : 'before each step the bench waits (at most 300 s) until the 1-minute load average is at most the number of cores'),
        }
      : {}),
    ...(o.series.includes('wake') ? { wake: `smallest size of each engine, ${o.wakeRounds} rounds each; memory of ${o.wakeInstances} instances` } : {}),
  };
}

/** The first controller of a data dir imports the templates through the API. */
async function importAll(r: Results, bc: BenchController, g: Group): Promise<void> {
  for (const s of g.sizes) {
    say(`${s.id} ${bc.driver}: importing ${s.template} through the API`);
    const imp = await importTemplate(bc, s.template);
    r.imports.push({ series: bc.driver, size: s.id, ...imp });
    say(`${s.id} ${bc.driver}: import took ${fmtMs(imp.ms)}; template datadir ${fmtBytes(imp.sizeBytes)}`);
  }
}

/** Issue 12's scale series on one btrfs controller: floor under I/O, concurrency, density. */
async function measureScale(o: Options, r: Results, bc: BenchController, g: Group, write: () => Promise<void>): Promise<void> {
  const small = smallestOf(g.sizes);
  const pg = small.find((s) => s.engine === 'postgres') ?? small[0];
  if (o.series.includes('floor-io')) {
    for (const s of small) {
      r.floorIo!.push(await measureFloorIo(bc, s, await templateInfo(bc, s.template), o.images[s.engine], o.floorIoRuns));
      await write();
    }
  }
  if (o.series.includes('concurrency') && pg) {
    const rig = await openFloorRig(pg, await templateInfo(bc, pg.template), o.images[pg.engine], bc.dataDir);
    try {
      r.concurrencySeries!.push(await measureConcurrencySeries(bc, pg, o.concurrencyNs, 3, { rig }));
    } finally {
      await rig.close();
    }
    await write();
  }
  if (o.series.includes('density') && pg) {
    const rig = await openFloorRig(pg, await templateInfo(bc, pg.template), o.images[pg.engine], bc.dataDir);
    try {
      r.density!.push(await measureDensity(bc, pg, o.densitySteps, { creates: o.densityCreates, idleMs: o.densityIdleMs, batch: o.quick ? 10 : 20 }, { rig }));
    } finally {
      await rig.close();
    }
    await write();
  }
}

/** One controller's measurements: clone-to-ready, footprint, and on the first series the floor and the alternatives. */
async function measureSeries(
  o: Options, r: Results, bc: BenchController, g: Group, primary: boolean, variant: Variant,
  datasets: Map<string, Dataset>, rt: Runtime, work: string, write: () => Promise<void>,
): Promise<void> {
  for (const s of g.sizes) {
    const warm = variant.warmPool ?? 0;
    r.clone.push(await measureCloneToReady(bc, s, o.runs, warm ? () => waitWarm(bc, s.template, warm) : undefined));
    if (warm) continue;
    const res = await measureResources(bc, s);
    r.resources.push(res);
    say(`${s.id} ${bc.driver}: idle memory ${fmtBytes(res.memory?.usedBytes)}; new disk of a fresh clone ${res.disk.exclusiveBytes === null ? '' : `${fmtBytes(res.disk.exclusiveBytes)} exclusive, `}df delta ${fmtBytes(res.disk.dfDeltaBytes)}`);
    if (primary && g.driver === 'btrfs') {
      const tpl = await templateInfo(bc, s.template);
      r.floor.push(await measureFloor(s, tpl, o.images[s.engine], bc.dataDir, o.quick ? 2 : 5));
      if (o.alternatives) {
        const big = datasets.get(s.id)!.dbBytes > 3 * 1024 ** 3;
        const ctx: AltContext = {
          rt, image: o.images[s.engine], work,
          loadRuns: big ? Math.min(o.altRuns, 2) : o.altRuns,
          copyRuns: o.quick ? 1 : big ? Math.min(Math.max(o.altRuns, 5), 3) : Math.max(o.altRuns, 5),
        };
        const ds = datasets.get(s.id)!;
        r.alternatives.push(...(s.engine === 'postgres' ? await postgresAlternatives(ctx, s, ds, tpl) : await mariadbAlternatives(ctx, s, ds, tpl)));
      }
    }
    await write();
  }
  if (g.driver !== 'copy' && !variant.warmPool) {
    const s = [...g.sizes].reverse().find((x) => x.engine === 'postgres') ?? g.sizes[0];
    r.concurrency.push(await measureConcurrency(bc, s, o.concurrency));
  }
  await write();
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o.quick) {
    calmLimit.ms = 30_000; // a smoke test: waiting for a quiet machine is not its job
    calmLimit.eachStep = false;
  }
  const rt = benchRuntime();
  await rt.ping();
  for (const image of Object.values(o.images)) {
    if (!(await rt.imageExists(image))) throw new Error(`image ${image} is missing: run sudo scripts/setup-host.sh`);
  }
  const stale = (await removeBenchContainers(rt, 'stale')) + (await removeStaleDataDirs(rt, o.pools)).length;
  for (const name of await readdir(o.scratch).catch(() => [])) {
    const m = /^myaas-bench-([0-9]+)$/.exec(name);
    if (m && !alive(Number(m[1]))) await rm(join(o.scratch, name), { recursive: true, force: true });
  }
  if (stale) say(`removed ${stale} leftovers of an earlier, interrupted bench run`);
  const work = join(o.scratch, `myaas-bench-${process.pid}`);
  await mkdir(work, { recursive: true });
  await mkdir(o.out, { recursive: true });
  const open = new Set<BenchController>();
  let cleaning: Promise<void> | null = null;
  const cleanup = () =>
    (cleaning ??= (async () => {
      for (const bc of open) await bc.close().catch((e) => say(`cleanup of ${bc.dataDir} failed: ${(e as Error).message}`));
      open.clear();
      await removeBenchContainers(rt, 'mine');
      await rm(work, { recursive: true, force: true });
    })());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      say(`${sig}: cleaning up`);
      // Work cut off mid-way fails in the background; cleaning up matters more than its error.
      process.on('unhandledRejection', (e) => say(`after ${sig}: ${(e as Error)?.message ?? String(e)}`));
      void cleanup().finally(() => process.exit(130));
    });
  }

  const groups = await plan(o);
  const names = groups.flatMap((g) => g.variants.map((v) => `${seriesName(g.driver, v)} (${g.sizes.map((x) => x.id).join(',')})`));
  say(`sizes ${o.sizes.map((s) => s.id).join(', ')}; series ${names.join('; ')}; ${o.runs} runs`);
  const r: Results = {
    schema: 1, startedAt: new Date().toISOString(), quick: o.quick,
    options: { ...o, sizes: o.sizes.map((s) => s.id) },
    machine: await describeMachine([o.pools.btrfs, o.pools.xfs, o.cache, o.scratch], o.images),
    code: await codeVersion(),
    settings: settings(o), datasets: [], imports: [], clone: [], resources: [], concurrency: [], floor: [], alternatives: [],
    floorIo: [], concurrencySeries: [], density: [], wake: [], targets: [], errors: [],
  };
  const write = async () => {
    r.targets = judgeTargets(r);
    await writeFile(join(o.out, 'results.json'), `${compactJson(r, 4)}\n`);
    await writeFile(join(o.out, 'results.md'), renderMarkdown(r));
    await writeFile(join(o.out, 'chart.svg'), renderChart(r));
    for (const [file, svg] of Object.entries(seriesCharts(r))) if (svg) await writeFile(join(o.out, file), svg);
  };
  try {
    await mkdir(o.cache, { recursive: true });
    const datasets = new Map<string, Dataset>();
    for (const s of o.sizes) {
      const d = await ensureDataset(rt, o, s, work);
      datasets.set(s.id, d);
      r.datasets.push(d);
    }
    for (const [gi, g] of groups.entries()) {
      const free = (await statfs(g.pool)).bavail * (await statfs(g.pool)).bsize;
      const need = g.sizes.reduce((a, s) => a + datasets.get(s.id)!.dbBytes * 1.3, 0);
      if (need > free) say(`warning: ${g.pool} has ${fmtBytes(free)} free, the templates need about ${fmtBytes(need)}`);
      for (const [vi, variant] of g.variants.entries()) {
        const bc = await startBenchController(o, g.driver, g.pool, variant);
        open.add(bc);
        try {
          if (vi === 0) await importAll(r, bc, g);
          if (variant.job === 'clone') await measureSeries(o, r, bc, g, gi === 0 && vi === 0, variant, datasets, rt, work, write);
          else if (variant.job === 'scale') await measureScale(o, r, bc, g, write);
          else r.wake!.push(await measureWake(bc, smallestOf(g.sizes), IDLE_SUSPEND, o.wakeRounds, o.wakeInstances));
          await write();
        } finally {
          open.delete(bc);
          if (vi === g.variants.length - 1) await bc.close();
          else await bc.stop();
        }
      }
    }
  } catch (e) {
    r.errors.push((e as Error).stack ?? String(e));
    throw e;
  } finally {
    r.finishedAt = new Date().toISOString();
    r.machine.loadAverage.atEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
    await write().catch((e) => say(`could not write results: ${(e as Error).message}`));
    await cleanup();
    const left = (await rt.list({})).filter(
      (c) => c.labels['myaas.bench.pid'] === String(process.pid) || (c.labels['myaas.home'] ?? '').includes(`/myaas-bench-${process.pid}-`),
    );
    const dirs = (await Promise.all(Object.values(o.pools).map((p) => readdir(p).catch(() => [] as string[])))).flat().filter((n) => n.startsWith(`myaas-bench-${process.pid}-`));
    say(left.length || dirs.length ? `LEFT BEHIND: ${left.length} containers, data dirs ${dirs.join(', ')}` : 'cleaned up: no bench containers, clones or data dirs left');
  }
  say(`results in ${o.out}: results.json, results.md, chart.svg${Object.entries(seriesCharts(r)).filter(([, v]) => v).map(([k]) => `, ${k}`).join('')}`);
  for (const t of r.targets) say(`target ${t.met === null ? 'not measured' : t.met ? 'MET    ' : 'NOT MET'}: ${t.target}: ${t.measured}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
