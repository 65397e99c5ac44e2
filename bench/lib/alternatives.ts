// What users do without myaas, on the same data in the same run: load the dump into a fresh server
// (pg_restore -j 2, psql of a plain dump, the mariadb client), copy a loaded database inside the
// server (CREATE DATABASE … TEMPLATE, both strategies), or copy a whole datadir and start a server.
// Each ends, like clone-to-ready, when a query on the new database succeeds.
import { chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import postgres from 'postgres';
import { createEngine } from '../../controller/engines/index.js';
import { systemClock } from '../../controller/lib/clock.js';
import type { Runtime } from '../../controller/runtime/runtime.js';
import { firstQuery, sampleQuery } from './clients.js';
import type { Dataset } from './datasets.js';
import { execOk, MY, PG, runToExit, start, waitExecOk } from './docker.js';
import type { SizeSpec } from './options.js';
import { calm, cmd, fmtMs, round1, say, stats, type Stats } from './util.js';

export interface AltResult {
  method: string;
  size: string;
  runs: number[];
  stats: Stats;
}

export interface TemplateInfo {
  /** the sealed datadir of the template version */
  dir: string;
  adminPassword: string;
  database: string;
}

export interface AltContext {
  rt: Runtime;
  image: string;
  work: string;
  /** runs of the loading methods (slow) and of the copying ones */
  loadRuns: number;
  copyRuns: number;
}

async function series(method: string, s: SizeSpec, n: number, once: (i: number) => Promise<number>): Promise<AltResult> {
  const runs: number[] = [];
  await calm();
  for (let i = 0; i < n; i++) {
    const ms = await once(i);
    runs.push(round1(ms));
    say(`${s.id} alternative ${method}: run ${i + 1}/${n}: ${fmtMs(ms)}`);
  }
  return { method, size: s.id, runs, stats: stats(runs) };
}

async function freshDir(p: string): Promise<string> {
  await rm(p, { recursive: true, force: true });
  await mkdir(p, { recursive: true });
  await chown(p, 999, 999);
  return p;
}

/** `cp -a` of the template datadir, then a server on it as myaas would start one (same command and limits). */
async function fullCopy(ctx: AltContext, s: SizeSpec, tpl: TemplateInfo, n: number): Promise<AltResult> {
  const engine = createEngine(s.engine, systemClock());
  return series('full copy + start', s, n, async (i) => {
    const dst = join(ctx.work, `copy-${s.id}-${i}`);
    await rm(dst, { recursive: true, force: true });
    const t0 = performance.now();
    let id: string | null = null;
    try {
      await cmd('cp', ['-a', '--reflink=never', '--', tpl.dir, dst]);
      const c = await start(ctx.rt, {
        role: 'alt', name: `myaas-bench-copy-${process.pid}-${i}`, image: ctx.image, cmd: engine.serverCommand('instance', '/tmp'),
        binds: [{ host: dst, container: engine.dataDir }], publish: { containerPort: engine.port, hostPort: 0, hostIp: '127.0.0.1' },
        memoryBytes: 1024 ** 3, nanoCpus: 1e9, shmBytes: 128 * 1024 * 1024,
      });
      id = c.id;
      const url = engine.url({ host: '127.0.0.1', port: c.hostPort!, user: engine.adminUser, password: tpl.adminPassword, database: tpl.database });
      await firstQuery(url, sampleQuery(s.engine), 120_000);
      return performance.now() - t0;
    } finally {
      if (id) await ctx.rt.remove(id);
      await rm(dst, { recursive: true, force: true });
    }
  });
}

export async function postgresAlternatives(ctx: AltContext, s: SizeSpec, ds: Dataset, tpl: TemplateInfo): Promise<AltResult[]> {
  const data = await freshDir(join(ctx.work, `alt-${s.id}`));
  const binds = [
    { host: data, container: PG.data },
    { host: dirname(ds.dumpFile), container: '/dumps', readOnly: true },
    { host: dirname(ds.plainFile), container: '/plain', readOnly: true },
  ];
  const base = { image: ctx.image, binds, shmBytes: 512 * 1024 * 1024 };
  await runToExit(ctx.rt, { ...base, role: 'alt', name: `myaas-bench-altinit-${process.pid}`, cmd: PG.init() });
  // The bench connects over Docker's bridge, which initdb's loopback-only rules do not cover.
  await writeFile(join(data, 'pg_hba.conf'), 'local all all trust\nhost all all all trust\n');
  await chown(join(data, 'pg_hba.conf'), 999, 999);
  const srv = await start(ctx.rt, {
    ...base, role: 'alt', name: `myaas-bench-alt-${process.pid}`, cmd: PG.server(), publish: { containerPort: 5432, hostPort: 0, hostIp: '127.0.0.1' },
  });
  const urlOf = (db: string) => `postgres://postgres@127.0.0.1:${srv.hostPort}/${db}`;
  const psql = (db: string, ...args: string[]) => execOk(ctx.rt, srv.id, [...PG.psql(db), ...args]);
  const q = sampleQuery('postgres');
  const results: AltResult[] = [];
  try {
    await waitExecOk(ctx.rt, srv.id, PG.ping());
    // The first restore is kept as the source of CREATE DATABASE … TEMPLATE.
    results.push(
      await series('pg_restore -j 2', s, ctx.loadRuns, async (i) => {
        const db = i === 0 ? 'src' : `r${i}`;
        const t0 = performance.now();
        await execOk(ctx.rt, srv.id, ['createdb', '-h', '/tmp', '-U', 'postgres', db]);
        await execOk(ctx.rt, srv.id, [
          'pg_restore', '-h', '/tmp', '-U', 'postgres', '-d', db, '-j', '2', '--no-owner', '--no-privileges', '--exit-on-error', `/dumps/${basename(ds.dumpFile)}`,
        ]);
        await firstQuery(urlOf(db), q);
        const ms = performance.now() - t0;
        if (i > 0) await psql('postgres', '-c', `DROP DATABASE ${db}`);
        return ms;
      }),
    );
    results.push(
      await series('psql (plain dump)', s, ctx.loadRuns, async (i) => {
        const db = `p${i}`;
        const t0 = performance.now();
        await execOk(ctx.rt, srv.id, ['createdb', '-h', '/tmp', '-U', 'postgres', db]);
        await psql(db, '-f', `/plain/${basename(ds.plainFile)}`);
        await firstQuery(urlOf(db), q);
        const ms = performance.now() - t0;
        await psql('postgres', '-c', `DROP DATABASE ${db}`);
        return ms;
      }),
    );
    await psql('postgres', '-c', 'CHECKPOINT');
    const admin = postgres(urlOf('postgres'), { max: 1, prepare: false, onnotice: () => {} });
    try {
      for (const strategy of ['FILE_COPY', 'WAL_LOG']) {
        results.push(
          await series(`CREATE DATABASE … TEMPLATE (${strategy})`, s, ctx.copyRuns, async (i) => {
            const db = `c${i}`;
            const t0 = performance.now();
            await admin.unsafe(`CREATE DATABASE ${db} TEMPLATE src STRATEGY ${strategy}`);
            await firstQuery(urlOf(db), q);
            const ms = performance.now() - t0;
            await admin.unsafe(`DROP DATABASE ${db}`);
            return ms;
          }),
        );
      }
    } finally {
      await admin.end({ timeout: 1 }).catch(() => {});
    }
  } finally {
    await ctx.rt.remove(srv.id);
    await rm(data, { recursive: true, force: true });
  }
  results.push(await fullCopy(ctx, s, tpl, ctx.copyRuns));
  return results;
}

export async function mariadbAlternatives(ctx: AltContext, s: SizeSpec, ds: Dataset, tpl: TemplateInfo): Promise<AltResult[]> {
  const data = await freshDir(join(ctx.work, `alt-${s.id}`));
  const base = {
    image: ctx.image,
    binds: [{ host: data, container: MY.data }, { host: dirname(ds.plainFile), container: '/plain', readOnly: true }],
  };
  await runToExit(ctx.rt, { ...base, role: 'alt', name: `myaas-bench-altinit-${process.pid}`, cmd: MY.init() });
  const srv = await start(ctx.rt, { ...base, role: 'alt', name: `myaas-bench-alt-${process.pid}`, cmd: MY.server() });
  const results: AltResult[] = [];
  try {
    await waitExecOk(ctx.rt, srv.id, MY.ping());
    results.push(
      await series('mariadb client (plain dump)', s, ctx.loadRuns, async (i) => {
        const db = `m${i}`;
        const t0 = performance.now();
        await execOk(ctx.rt, srv.id, [...MY.client, '-e', `CREATE DATABASE ${db}`]);
        await execOk(ctx.rt, srv.id, [...MY.client, '--batch', db, '-e', `source /plain/${basename(ds.plainFile)}`]);
        await execOk(ctx.rt, srv.id, [...MY.client, '-N', '-B', db, '-e', sampleQuery('mariadb')]);
        const ms = performance.now() - t0;
        await execOk(ctx.rt, srv.id, [...MY.client, '-e', `DROP DATABASE ${db}`]);
        return ms;
      }),
    );
  } finally {
    await ctx.rt.remove(srv.id);
    await rm(data, { recursive: true, force: true });
  }
  results.push(await fullCopy(ctx, s, tpl, ctx.copyRuns));
  return results;
}
