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

export interface Options {
  quick: boolean;
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
       [--warm-pool N (0: off)] [--[no-]host-network] [--no-alternatives] [--out DIR] [--cache DIR] [--scratch DIR]`;

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
    if (['quick', 'no-alternatives', 'host-network', 'no-host-network'].includes(k)) {
      flags.add(k);
      continue;
    }
    const v = inline ?? argv[++i];
    if (v === undefined) throw new Error(`--${k} needs a value\n${USAGE}`);
    val.set(k, v);
  }
  const known = new Set(['runs', 'sizes', 'drivers', 'copy-sizes', 'alt-runs', 'concurrency', 'warm-pool', 'out', 'cache', 'scratch']);
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
  const smallest = (e: Engine) => sizes.find((s) => s.engine === e)?.id;
  const defaultCopy = [smallest('postgres'), smallest('mariadb')].filter((x): x is string => !!x);
  return {
    quick,
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
