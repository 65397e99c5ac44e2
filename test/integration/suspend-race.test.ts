// Issue 12, item 4, on the real engine, PostgreSQL and MariaDB: a client that keeps connecting to an
// instance's URL across the moments it is suspended never sees an error. It connects, runs `select 1`
// and disconnects, again and again with short random pauses: the idle check mostly finds nobody
// connected, so the instance is suspended (and woken by the client's next connection) over and over
// while connections keep arriving, including in the moment between the idle check and the controller
// listening on the port. A connection that arrives there must end up answered: by the woken server,
// or by the running one when the suspension is given up. One client, one connection at a time: the
// connection that wakes the instance is answered once it is ready, so no later one arrives while it
// starts (a wake's own caveat, see README "Idle instances"). Nothing about timing is asserted; the
// test runs until the instance has been suspended several times.
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChinookDumps, importAndWait, leftovers, startTestController, wipe, type TestController } from '../helpers/controller.js';
import { POOLS, requireDocker, requirePool, run } from '../helpers/testbed.js';

const ENGINES = [
  { engine: 'postgres', template: 'chinook' },
  { engine: 'mariadb', template: 'chinook-my' },
] as const;
const SUSPENSIONS = 4;

/** One client connection: connect, `select 1`, disconnect; throws whatever the client library threw. */
async function selectOne(engine: string, url: string): Promise<void> {
  if (engine === 'postgres') {
    const c = postgres(url, { max: 1, connect_timeout: 60, onnotice: () => {} });
    try {
      const rows = await c`select 1 as one`;
      if (rows[0]?.one !== 1) throw new Error(`select 1 answered ${JSON.stringify(rows)}`);
    } finally {
      await c.end({ timeout: 5 });
    }
    return;
  }
  const c = await mysql.createConnection({ uri: url, connectTimeout: 60_000 });
  try {
    const [rows] = await c.query('select 1 as one');
    if ((rows as Array<{ one: number }>)[0]?.one !== 1) throw new Error(`select 1 answered ${JSON.stringify(rows)}`);
  } finally {
    await c.end().catch(() => c.destroy());
  }
}

/** Our iptables rules (the controller's own, by their comment) that mention `port`. */
async function rulesFor(port: number): Promise<string[]> {
  const lines: string[] = [];
  for (const table of ['raw', 'filter', 'nat']) {
    const { stdout } = await run('iptables', ['-w', '5', '-t', table, '-S']);
    lines.push(...stdout.split('\n').filter((l) => l.includes('myaas') && l.includes(`--dport ${port} `)));
  }
  return lines;
}

describe('clients connecting across idle suspensions', () => {
  let t: TestController;
  const dataDir = join(POOLS.btrfs, `it-suspend-race-${process.pid}`);

  beforeAll(async () => {
    await requireDocker();
    requirePool(POOLS.btrfs, 'btrfs');
    t = await startTestController({ dataDir, env: { MYAAS_IDLE_SUSPEND: '1s' } });
    await addChinookDumps(t.dumpsDir);
    for (const e of ENGINES) expect((await importAndWait(t, e.template)).status).toBe('ready');
  }, 600_000);
  afterAll(async () => {
    if (t) await wipe(t);
  }, 120_000);

  for (const e of ENGINES) {
    it(`${e.engine}: a client connecting over and over sees no error while the instance is suspended and woken ${SUSPENSIONS} times under it`, async () => {
      const r = await t.api('POST', '/api/v1/instances?wait=120', { template: e.template, name: `race-${e.engine}` });
      expect(r.body.status).toBe('ready');
      const { id, connection } = r.body;

      // Suspensions seen: the instance's status goes to suspended (watched closely, as a wake follows fast).
      let suspensions = 0;
      let watching = true;
      const watcher = (async () => {
        let last = 'ready';
        while (watching) {
          const s = (await t.controller.store.getInstance(id))?.status ?? 'gone';
          if (s === 'suspended' && last !== 'suspended') suspensions++;
          last = s;
          await new Promise((res) => setTimeout(res, 5));
        }
      })();

      const errors: string[] = [];
      let queries = 0;
      let stop = false;
      const client = (async () => {
        while (!stop) {
          try {
            await selectOne(e.engine, connection.url);
            queries++;
          } catch (err) {
            errors.push(`${(err as { code?: string }).code ?? ''} ${(err as Error).message}`.trim());
          }
          await new Promise((res) => setTimeout(res, Math.random() * 100));
        }
      })();
      try {
        const deadline = Date.now() + 240_000;
        while (suspensions < SUSPENSIONS && errors.length === 0) {
          if (Date.now() > deadline) throw new Error(`only ${suspensions} suspensions happened under the clients`);
          await new Promise((res) => setTimeout(res, 100));
        }
      } finally {
        stop = true;
        await client;
        watching = false;
        await watcher;
      }
      console.log(`${e.engine}: ${suspensions} suspensions, ${queries} queries, ${errors.length} errors`);
      expect(errors).toEqual([]);
      expect(suspensions).toBeGreaterThanOrEqual(SUSPENSIONS);

      // Destroy: nothing of the instance is left, no listener or firewall rule on its port.
      expect((await t.api('DELETE', `/api/v1/instances/${id}?wait=60`)).body.status).toBe('destroyed');
      const left = await leftovers(t);
      expect(left.containers.filter((n) => n.includes(id))).toEqual([]);
      expect(left.clones).not.toContain(id);
      expect(await rulesFor(connection.port)).toEqual([]);
    }, 300_000);
  }
});
