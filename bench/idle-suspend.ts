// `npx tsx bench/idle-suspend.ts [rounds] [instances]`: what MYAAS_IDLE_SUSPEND costs and saves, on the
// real engines and the btrfs pool. A controller (in-process, its own data dir) with a 2 s idle limit and
// the Chinook templates of both engines. Series printed as figures, nothing written:
//   1. wake-to-first-query: connect with a client library to a suspended instance's unchanged URL and run
//      one query, per engine, `rounds` times; beside it the same on a running instance (the direct path);
//   2. memory of `instances` instances (half of each engine) all running (each held busy by an open
//      connection), then with all but two suspended (those two keep theirs); the controller's RSS beside.
// Cleans up everything it made, also when it fails.
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import postgres from 'postgres';
import { addChinookDumps, importAndWait, startTestController, wipe, type TestController } from '../test/helpers/controller.js';
import { POOLS, requireDocker, requirePool } from '../test/helpers/testbed.js';

const ROUNDS = Number(process.argv[2] ?? 10);
const INSTANCES = Number(process.argv[3] ?? 20);
const ENGINES = [
  { engine: 'postgres', template: 'chinook', query: 'select count(*) from track' },
  { engine: 'mariadb', template: 'chinook-my', query: 'select count(*) from Track' },
] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length - 1) * p))];
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

interface Held {
  close(): Promise<void>;
}

/** Connect and first query with a client library, timed from before the connection. */
async function firstQuery(engine: string, url: string, sql: string, keep = false): Promise<{ ms: number; held: Held | null }> {
  const t0 = performance.now();
  if (engine === 'postgres') {
    const c = postgres(url, { max: 1, connect_timeout: 30, onnotice: () => {} });
    await c.unsafe(sql);
    const ms = performance.now() - t0;
    if (keep) return { ms, held: { close: () => c.end({ timeout: 1 }) } };
    await c.end({ timeout: 1 });
    return { ms, held: null };
  }
  const c = await mysql.createConnection({ uri: url, connectTimeout: 30_000 });
  await c.query(sql);
  const ms = performance.now() - t0;
  if (keep) return { ms, held: { close: () => c.end() } };
  await c.end();
  return { ms, held: null };
}

async function main() {
  await requireDocker();
  requirePool(POOLS.btrfs, 'btrfs');
  const t: TestController = await startTestController({ dataDir: join(POOLS.btrfs, `bench-suspend-${process.pid}`), env: { MYAAS_IDLE_SUSPEND: '2s' } });
  const held: Held[] = [];
  try {
    await addChinookDumps(t.dumpsDir);
    for (const e of ENGINES) await importAndWait(t, e.template);
    const status = async (id: string) => (await t.api('GET', `/api/v1/instances/${id}`)).body.status as string;
    const until = async (id: string, s: string) => {
      const deadline = Date.now() + 120_000;
      while ((await status(id)) !== s) {
        if (Date.now() > deadline) throw new Error(`instance ${id} not ${s}`);
        await sleep(50);
      }
    };

    console.log(`wake-to-first-query (${ROUNDS} rounds; client library connect + one query)`);
    for (const e of ENGINES) {
      const r = await t.api('POST', '/api/v1/instances?wait=120', { template: e.template, name: `bench-wake-${e.engine}` });
      const { id, connection } = r.body;
      const direct: number[] = [];
      const wake: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        await until(id, 'ready');
        direct.push((await firstQuery(e.engine, connection.url, e.query)).ms);
        await until(id, 'suspended');
        wake.push((await firstQuery(e.engine, connection.url, e.query)).ms);
      }
      const f = (xs: number[]) => `median ${Math.round(pct(xs, 0.5))} ms, p90 ${Math.round(pct(xs, 0.9))} ms, max ${Math.round(Math.max(...xs))} ms`;
      console.log(`  ${e.engine.padEnd(8)} suspended: ${f(wake)}`);
      console.log(`  ${e.engine.padEnd(8)} running:   ${f(direct)}  (direct path, no proxy)`);
      await t.api('DELETE', `/api/v1/instances/${id}?wait=60`);
    }

    console.log(`memory of ${INSTANCES} instances (${INSTANCES / 2} of each engine)`);
    // Each one is kept busy by an open connection while the others are made, so all run at once.
    const ids: Array<{ id: string; engine: string; url: string; conn: Held }> = [];
    for (let i = 0; i < INSTANCES; i++) {
      const e = ENGINES[i % 2];
      const r = await t.api('POST', '/api/v1/instances?wait=120', { template: e.template, name: `bench-mem-${i}` });
      const conn = (await firstQuery(e.engine, r.body.connection.url, 'select 1', true)).held!;
      held.push(conn);
      ids.push({ id: r.body.id, engine: e.engine, url: r.body.connection.url, conn });
    }
    const memory = async () => {
      let sum = 0;
      let running = 0;
      for (const c of await t.controller.runtime.list({ 'myaas.home': t.dataDir })) {
        if (!c.running) continue;
        running++;
        sum += (await t.controller.runtime.memoryUsage(c.id)) ?? 0;
      }
      return { sum, running };
    };
    const all = await memory();
    console.log(`  all running:      ${all.running} containers, ${mib(all.sum)} (controller RSS ${mib(process.memoryUsage().rss)})`);
    // Two busy ones (one per engine) keep their connection; the rest go idle.
    for (const x of ids.slice(2)) await x.conn.close();
    for (const x of ids.slice(2)) await until(x.id, 'suspended');
    const some = await memory();
    console.log(`  ${INSTANCES - 2} suspended:     ${some.running} containers, ${mib(some.sum)} (controller RSS ${mib(process.memoryUsage().rss)})`);
  } finally {
    for (const h of held) await h.close().catch(() => undefined);
    await wipe(t);
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
