// Command-line options of `npm run bench` and the catalogue of data sets it can measure.
import { resolve } from 'node:path';

export type Engine = 'postgres' | 'mariadb';
export type Driver = 'btrfs' | 'reflink' | 'copy';

export interface SizeSpec {
  /** id used on the command line (--sizes) and in results */
  id: string;
  engine: Engine;
  /** template name inside the controller */
  template: string;
  /** what the size is called in tables (the measured datadir size is reported next to it) */
  label: string;
  /** pgbench scale factor (postgres) */
  scale?: number;
  /** generated rows of the orders table (mariadb) */
  rows?: number;
}

export const SIZES: SizeSpec[] = [
  { id: 'pg-s10', engine: 'postgres', template: 'pgbench-s10', label: '150 MB', scale: 10 },
  { id: 'pg-s100', engine: 'postgres', template: 'pgbench-s100', label: '1.5 GB', scale: 100 },
  { id: 'pg-s400', engine: 'postgres', template: 'pgbench-s400', label: '6 GB', scale: 400 },
  { id: 'my-s1', engine: 'mariadb', template: 'orders-s1', label: '100 MB', rows: 550_000 },
  { id: 'my-s10', engine: 'mariadb', template: 'orders-s10', label: '1 GB', rows: 5_500_000 },
];

/** What `npm run bench` measures; `clone` is the original series (clone-to-ready, reset, footprint, floor, alternatives). */
export const SERIES = ['clone', 'floor-io', 'concurrency', 'density', 'wake'] as const;
export type Series = (typeof SERIES)[number];

export interface Options {
  quick: boolean;
  series: Series[];
  /** floor under I/O: interleaved myaas / floor runs, each quiet and under a background writer */
  floorIoRuns: number;
  /** instances requested at once in the concurrency series (1 is the single cold clone) */
  concurrencyNs: number[];
  /** density steps: instances present on the host */
  densitySteps: number[];
  /** creates measured at each density step */
  densityCreates: number;
  /** idle window for controller RSS and CPU at each density step */
  densityIdleMs: number;
  wakeRounds: number;
  /** instances of the mostly-suspended memory measurement */
  wakeInstances: number;
  sizes: SizeSpec[];
  /** clone-to-ready runs per size and driver */
  runs: number;
  /** runs of each alternative per size (the largest sizes use at most 2) */
  altRuns: number;
  drivers: Driver[];
  /** sizes the copy driver is measured at (it copies the whole datadir every time) */
  copySizes: string[];
  concurrency: number;
  /** > 0: also measure the btrfs controller with MYAAS_WARM_POOL set to this */
  warmPool: number;
  /** also measure the btrfs controller with MYAAS_NETWORK=host */
  hostNetwork: boolean;
  alternatives: boolean;
  out: string;
  cache: string;
  scratch: string;
  pools: { btrfs: string; xfs: string };
  images: Record<Engine, string>;
}

const USAGE = `usage: npm run bench -- [--quick] [--runs N] [--sizes ${SIZES.map((s) => s.id).join(',')}]
       [--drivers btrfs,reflink,copy] [--copy-sizes ID,…] [--alt-runs N] [--concurrency N]
       [--warm-pool N (0: off)] [--[no-]host-network] [--no-alternatives] [--out DIR] [--cache DIR] [--scratch DIR]
       [--series ${SERIES.join(',')}] [--no-clone] [--no-floor-io] [--no-concurrency] [--no-density] [--no-wake]
       [--floor-io-runs N] [--concurrency-ns 1,20,100] [--density N] [--density-step N] [--density-creates N]
       [--wake-rounds N] [--wake-instances N]`;

export function parseOptions(argv: string[]): Options {
  const val = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(a)}\n${USAGE}`);
    const [k, inline] = a.slice(2).split('=', 2);
    if (['quick', 'no-alternatives', 'host-network', 'no-host-network', ...SERIES.map((x) => `no-${x}`)].includes(k)) {
      flags.add(k);
      continue;
    }
    const v = inline ?? argv[++i];
    if (v === undefined) throw new Error(`--${k} needs a value\n${USAGE}`);
    val.set(k, v);
  }
  const known = new Set(['runs', 'sizes', 'drivers', 'copy-sizes', 'alt-runs', 'concurrency', 'warm-pool', 'out', 'cache', 'scratch',
    'series', 'floor-io-runs', 'concurrency-ns', 'density', 'density-step', 'density-creates', 'wake-rounds', 'wake-instances']);
  for (const k of val.keys()) if (!known.has(k)) throw new Error(`unknown option --${k}\n${USAGE}`);

  const quick = flags.has('quick');
  const int = (k: string, d: number, min = 1) => {
    const raw = val.get(k);
    if (raw === undefined) return d;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${k} must be an integer ≥ ${min}, got ${raw}`);
    return n;
  };
  const ids = (k: string, d: string[]) => (val.get(k)?.split(',').map((s) => s.trim()).filter(Boolean) ?? d);
  const sizeIds = ids('sizes', quick ? ['pg-s10', 'my-s1'] : SIZES.map((s) => s.id));
  const sizes = sizeIds.map((id) => {
    const s = SIZES.find((x) => x.id === id);
    if (!s) throw new Error(`unknown size ${id}; choose from ${SIZES.map((x) => x.id).join(', ')}`);
    return s;
  });
  const drivers = ids('drivers', ['btrfs', 'reflink', 'copy']).map((d) => {
    if (d !== 'btrfs' && d !== 'reflink' && d !== 'copy') throw new Error(`unknown driver ${d}; choose from btrfs, reflink, copy`);
    return d as Driver;
  });
  const series = ids('series', [...SERIES]).map((x) => {
    if (!(SERIES as readonly string[]).includes(x)) throw new Error(`unknown series ${x}; choose from ${SERIES.join(', ')}`);
    return x as Series;
  }).filter((x) => !flags.has(`no-${x}`));
  const density = int('density', quick ? 20 : 500, 0);
  const step = int('density-step', quick ? 10 : 100, 1);
  const densitySteps = Array.from({ length: Math.floor(density / step) + 1 }, (_, i) => i * step);
  if (densitySteps[densitySteps.length - 1] !== density) densitySteps.push(density);
  const concurrencyNs = ids('concurrency-ns', quick ? ['1', '10', '20'] : ['1', '20', '100']).map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--concurrency-ns takes integers ≥ 1, got ${x}`);
    return n;
  });
  if (!concurrencyNs.includes(1)) concurrencyNs.unshift(1);
  const smallest = (e: Engine) => sizes.find((s) => s.engine === e)?.id;
  const defaultCopy = [smallest('postgres'), smallest('mariadb')].filter((x): x is string => !!x);
  return {
    quick,
    series,
    floorIoRuns: int('floor-io-runs', quick ? 3 : 10, 1),
    concurrencyNs: [...new Set(concurrencyNs)].sort((a, b) => a - b),
    densitySteps,
    densityCreates: int('density-creates', 3, 1),
    densityIdleMs: quick ? 5000 : 10_000,
    wakeRounds: int('wake-rounds', quick ? 3 : 20, 1),
    wakeInstances: int('wake-instances', quick ? 10 : 200, 2),
    sizes,
    runs: int('runs', quick ? 5 : 20, 1),
    altRuns: int('alt-runs', quick ? 1 : 3, 1),
    drivers,
    copySizes: ids('copy-sizes', defaultCopy),
    concurrency: int('concurrency', 20, 1),
    warmPool: int('warm-pool', 2, 0),
    hostNetwork: flags.has('host-network') || (!quick && !flags.has('no-host-network')),
    alternatives: !flags.has('no-alternatives'),
    // A quick run must not overwrite the full results the README embeds.
    out: resolve(val.get('out') ?? (quick ? 'bench/results/quick' : 'bench/results')),
    cache: resolve(val.get('cache') ?? process.env.MYAAS_BENCH_CACHE ?? '/var/cache/myaas/bench'),
    scratch: resolve(val.get('scratch') ?? process.env.MYAAS_BENCH_SCRATCH ?? '/var/tmp'),
    pools: {
      btrfs: process.env.MYAAS_TEST_BTRFS_DIR ?? '/var/lib/myaas',
      xfs: process.env.MYAAS_TEST_XFS_DIR ?? '/var/lib/myaas-xfs',
    },
    images: {
      postgres: process.env.MYAAS_TEST_POSTGRES_IMAGE ?? 'myaas-local/postgres:15',
      mariadb: process.env.MYAAS_TEST_MARIADB_IMAGE ?? 'myaas-local/mariadb:10.11',
    },
  };
}
