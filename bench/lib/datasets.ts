// Builds the benchmark's dumps once and caches them outside the repository: pgbench data (pgbench -i
// in a throwaway PostgreSQL container, then pg_dump -Fc and a plain pg_dump) and generated MariaDB
// data (INSERT … SELECT from the SEQUENCE engine, then mariadb-dump, gzipped).
import { chown, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runtime } from '../../controller/runtime/runtime.js';
import { execOk, MY, PG, runToExit, start, waitExecOk } from './docker.js';
import type { Options, SizeSpec } from './options.js';
import { say, fmtBytes, fmtMs } from './util.js';

export interface Dataset {
  id: string;
  engine: SizeSpec['engine'];
  template: string;
  /** the file the controller imports: <dumpsDir>/<engine>/<template>.<ext> */
  dumpFile: string;
  dumpBytes: number;
  /** a plain SQL dump of the same data, for psql / the mariadb client */
  plainFile: string;
  plainBytes: number;
  /** logical size of the database in the server that generated it */
  dbBytes: number;
  /** how long generating, dumping and then writing the plain dump (postgres) or gzipping (mariadb) took when the cache was built */
  buildMs: { generate: number; dump: number; plain: number };
  builtAt: string;
  /** what was generated: pgbench scale or generated rows */
  spec: { scale?: number; rows?: number };
  /** true when this run found it in the cache */
  cached?: boolean;
}

export const dumpsDir = (o: Options) => join(o.cache, 'dumps');
const plainDir = (o: Options) => join(o.cache, 'plain');
const metaFile = (o: Options, s: SizeSpec) => join(o.cache, 'meta', `${s.id}.json`);

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

/** The cached data set of `s`, building it first when missing. */
export async function ensureDataset(rt: Runtime, o: Options, s: SizeSpec, work: string): Promise<Dataset> {
  const meta = metaFile(o, s);
  if (await exists(meta)) {
    const d = JSON.parse(await readFile(meta, 'utf8')) as Dataset;
    const same = d.spec?.scale === s.scale && d.spec?.rows === s.rows;
    if (same && (await exists(d.dumpFile)) && (await exists(d.plainFile))) return { ...d, cached: true };
  }
  for (const d of [join(dumpsDir(o), s.engine), plainDir(o), join(o.cache, 'meta')]) await mkdir(d, { recursive: true });
  const dir = join(work, `build-${s.id}`);
  const out = join(o.cache, `tmp-${process.pid}-${s.id}`);
  await rm(dir, { recursive: true, force: true });
  for (const d of [dir, out]) {
    await mkdir(d, { recursive: true });
    await chown(d, 999, 999);
  }
  say(`${s.id}: building the data set (${s.engine === 'postgres' ? `pgbench scale ${s.scale}` : `${s.rows} generated orders`}); cached afterwards in ${o.cache}`);
  try {
    const built = s.engine === 'postgres' ? await buildPostgres(rt, o, s, dir, out) : await buildMariadb(rt, o, s, dir, out);
    const ext = s.engine === 'postgres' ? 'dump' : 'sql.gz';
    const dumpFile = join(dumpsDir(o), s.engine, `${s.template}.${ext}`);
    const plainFile = join(plainDir(o), `${s.template}.sql`);
    await rename(join(out, `${s.template}.${ext}`), dumpFile);
    await rename(join(out, `${s.template}.sql`), plainFile);
    const d: Dataset = {
      id: s.id, engine: s.engine, template: s.template, dumpFile, plainFile,
      dumpBytes: (await stat(dumpFile)).size, plainBytes: (await stat(plainFile)).size,
      dbBytes: built.dbBytes, buildMs: built.ms, builtAt: new Date().toISOString(), spec: { scale: s.scale, rows: s.rows },
    };
    await writeFile(meta, `${JSON.stringify(d, null, 2)}\n`);
    say(`${s.id}: database ${fmtBytes(d.dbBytes)}, dump ${fmtBytes(d.dumpBytes)}, plain ${fmtBytes(d.plainBytes)}; generate ${fmtMs(d.buildMs.generate)}, dump ${fmtMs(d.buildMs.dump)}`);
    return d;
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  }
}

type Built = { dbBytes: number; ms: Dataset['buildMs'] };

async function buildPostgres(rt: Runtime, o: Options, s: SizeSpec, dir: string, out: string): Promise<Built> {
  const binds = [{ host: dir, container: PG.data }, { host: out, container: '/out' }];
  const base = { image: o.images.postgres, binds, shmBytes: 512 * 1024 * 1024 };
  await runToExit(rt, { ...base, role: 'build', name: `myaas-bench-init-${s.id}-${process.pid}`, cmd: PG.init() });
  const { id } = await start(rt, { ...base, role: 'build', name: `myaas-bench-build-${s.id}-${process.pid}`, cmd: PG.server() });
  try {
    await waitExecOk(rt, id, PG.ping());
    const t0 = Date.now();
    await execOk(rt, id, ['createdb', '-h', '/tmp', '-U', 'postgres', 'pgbench']);
    // G: server-side generation; no vacuum step, the dump does not carry it.
    await execOk(rt, id, ['pgbench', '-i', '-q', '-s', String(s.scale), '-I', 'dtGp', '-h', '/tmp', '-U', 'postgres', 'pgbench']);
    const t1 = Date.now();
    const dbBytes = Number((await execOk(rt, id, [...PG.psql('pgbench'), '-Atc', "select pg_database_size('pgbench')"])).trim());
    await execOk(rt, id, ['pg_dump', '-h', '/tmp', '-U', 'postgres', '-Fc', '-f', `/out/${s.template}.dump`, 'pgbench']);
    const t2 = Date.now();
    await execOk(rt, id, ['pg_dump', '-h', '/tmp', '-U', 'postgres', '-Fp', '--no-owner', '-f', `/out/${s.template}.sql`, 'pgbench']);
    const t3 = Date.now();
    return { dbBytes, ms: { generate: t1 - t0, dump: t2 - t1, plain: t3 - t2 } };
  } finally {
    await rt.remove(id);
  }
}

function orderRows(a: number, b: number, customers: number): string {
  return (
    `INSERT INTO orders SELECT seq, 1 + (seq * 7919) % ${customers}, ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'done'), ` +
    `((seq * 104729) % 100000) / 100, TIMESTAMP '2023-01-01 00:00:00' + INTERVAL ((seq * 13) % 31536000) SECOND, ` +
    `CONCAT('order ', seq, ' ', MD5(seq), ' ', MD5(seq + 1)) FROM seq_${a}_to_${b}`
  );
}

async function buildMariadb(rt: Runtime, o: Options, s: SizeSpec, dir: string, out: string): Promise<Built> {
  const binds = [{ host: dir, container: MY.data }, { host: out, container: '/out' }];
  const base = { image: o.images.mariadb, binds };
  await runToExit(rt, { ...base, role: 'build', name: `myaas-bench-init-${s.id}-${process.pid}`, cmd: MY.init() });
  const { id } = await start(rt, { ...base, role: 'build', name: `myaas-bench-build-${s.id}-${process.pid}`, cmd: MY.server() });
  const sql = (q: string, db = 'gen') => execOk(rt, id, [...MY.client, '-N', '-B', db, '-e', q]);
  try {
    await waitExecOk(rt, id, MY.ping());
    const t0 = Date.now();
    const rows = s.rows ?? 100_000;
    const customers = Math.max(1000, Math.round(rows / 10));
    await execOk(rt, id, [...MY.client, '-e', 'CREATE DATABASE gen']);
    await sql(
      'CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, email VARCHAR(128) NOT NULL, ' +
        'country CHAR(2) NOT NULL, created_at DATETIME NOT NULL, KEY idx_country (country)) ENGINE=InnoDB',
    );
    await sql(
      `INSERT INTO customers SELECT seq, CONCAT('Customer ', seq), CONCAT('c', seq, '@example.com'), ` +
        `ELT(1 + seq % 5, 'DE', 'FR', 'US', 'JP', 'BR'), TIMESTAMP '2020-01-01 00:00:00' + INTERVAL ((seq * 37) % 126230400) SECOND ` +
        `FROM seq_1_to_${customers}`,
    );
    await sql(
      'CREATE TABLE orders (id BIGINT PRIMARY KEY, customer_id INT NOT NULL, status VARCHAR(16) NOT NULL, ' +
        'amount DECIMAL(10,2) NOT NULL, created_at DATETIME NOT NULL, note VARCHAR(200) NOT NULL, ' +
        'KEY idx_customer (customer_id), KEY idx_created (created_at)) ENGINE=InnoDB',
    );
    const chunk = 500_000;
    for (let a = 1; a <= rows; a += chunk) await sql(orderRows(a, Math.min(rows, a + chunk - 1), customers));
    await sql('ANALYZE TABLE customers, orders');
    const t1 = Date.now();
    const dbBytes = Number(
      (await sql("SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema = 'gen'")).trim(),
    );
    await execOk(rt, id, [
      'mariadb-dump', '--no-defaults', '--socket=/tmp/mysqld.sock', '-uroot', '--single-transaction', '--quick',
      '--skip-dump-date', `--result-file=/out/${s.template}.sql`, 'gen',
    ]);
    const t2 = Date.now();
    await execOk(rt, id, ['gzip', '-1', '-k', '-f', `/out/${s.template}.sql`]);
    const t3 = Date.now();
    return { dbBytes, ms: { generate: t1 - t0, dump: t2 - t1, plain: t3 - t2 } };
  } finally {
    await rt.remove(id);
  }
}
