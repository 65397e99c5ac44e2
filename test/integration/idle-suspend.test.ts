// MYAAS_IDLE_SUSPEND on the real engine, PostgreSQL and MariaDB: an idle instance is suspended (its
// container gone, the controller listening on its port); a real client connecting to its unchanged URL
// gets its first query answered (wake-to-first-query printed, never asserted); it is ready again; a
// held-open client keeps it running; a restarted controller listens again; destroy while suspended
// leaves nothing behind.
import { connect } from 'node:net';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChinookDumps, importAndWait, leftovers, startTestController, wipe, type TestController } from '../helpers/controller.js';
import { mariadb, POOLS, psql, requireDocker, requirePool, until } from '../helpers/testbed.js';

const ENGINES = [
  { engine: 'postgres', template: 'chinook', cli: psql, count: 'select count(*) from track' },
  { engine: 'mariadb', template: 'chinook-my', cli: mariadb, count: 'select count(*) from Track' },
] as const;

/** A client library's connect and first query, timed from before the connection. */
async function libraryQuery(engine: string, url: string, sql: string): Promise<{ value: string; ms: number }> {
  const t0 = performance.now();
  if (engine === 'postgres') {
    const c = postgres(url, { max: 1, connect_timeout: 30, onnotice: () => {} });
    try {
      const rows = await c.unsafe(sql);
      return { value: String(Object.values(rows[0])[0]), ms: performance.now() - t0 };
    } finally {
      await c.end({ timeout: 1 });
    }
  }
  const c = await mysql.createConnection({ uri: url, connectTimeout: 30_000 });
  try {
    const [rows] = await c.query(sql);
    return { value: String(Object.values((rows as any[])[0])[0]), ms: performance.now() - t0 };
  } finally {
    await c.end();
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

describe('idle suspension on the real engines', () => {
  let t: TestController;
  const dataDir = join(POOLS.btrfs, `it-suspend-${process.pid}`);
  const env = { MYAAS_IDLE_SUSPEND: '3s' };
  const latencies: string[] = [];
  const get = async (id: string) => (await t.api('GET', `/api/v1/instances/${id}`)).body;
  const containerOf = async (id: string) => (await t.controller.runtime.list({ 'myaas.home': dataDir, 'myaas.instance': id })).filter((c) => c.running);
  // Suspended is recorded first, then the server stops, then the controller listens, then the container
  // id is cleared: wait for that last step.
  const parked = async (id: string) => (await t.controller.store.getInstance(id))?.containerId === null && !(await containerOf(id)).length;
  const untilStatus = (id: string, status: string, ms = 60_000) =>
    until(`instance ${id} ${status}`, async () => ((await get(id)).status === status && (status !== 'suspended' || (await parked(id))) ? true : null), ms);

  beforeAll(async () => {
    await requireDocker();
    requirePool(POOLS.btrfs, 'btrfs');
    t = await startTestController({ dataDir, env });
    await addChinookDumps(t.dumpsDir);
    for (const e of ENGINES) expect((await importAndWait(t, e.template)).status).toBe('ready');
  }, 600_000);
  afterAll(async () => {
    if (latencies.length) console.log(`idle-suspend wake-to-first-query:\n  ${latencies.join('\n  ')}`);
    if (t) await wipe(t);
  }, 120_000);

  for (const e of ENGINES) {
    it(`${e.engine}: suspends when idle, wakes on the first connection to the same URL, destroys cleanly while suspended`, async () => {
      const r = await t.api('POST', '/api/v1/instances?wait=120', { template: e.template, name: `idle-${e.engine}` });
      expect(r.body.status).toBe('ready');
      const { id, connection } = r.body;
      expect(await e.cli(connection.url, e.count)).toBe('3503');

      await untilStatus(id, 'suspended', 30_000);
      expect(await containerOf(id)).toEqual([]);
      const suspended = await get(id);
      expect(suspended.connection.url).toBe(connection.url);

      // A real client on the unchanged URL: its first query is answered.
      const t0 = performance.now();
      expect(await e.cli(connection.url, e.count)).toBe('3503');
      latencies.push(`${e.engine} (${e.engine === 'postgres' ? 'psql' : 'mariadb'} CLI): ${Math.round(performance.now() - t0)} ms`);
      await untilStatus(id, 'ready', 30_000);
      const again = await get(id);
      expect([again.connection.port, again.connection.password]).toEqual([connection.port, connection.password]);
      expect((await containerOf(id)).length).toBe(1);

      // A client that keeps its connection open keeps the instance running past the idle time.
      const held = await libraryQuery(e.engine, connection.url, 'select 1');
      expect(held.value).toBe('1');
      if (e.engine === 'postgres') {
        const c = postgres(connection.url, { max: 1, onnotice: () => {} });
        try {
          await c`select 1`;
          await new Promise((res) => setTimeout(res, 6000));
          expect((await get(id)).status).toBe('ready');
        } finally {
          await c.end({ timeout: 1 });
        }
      } else {
        const c = await mysql.createConnection({ uri: connection.url });
        try {
          await c.query('select 1');
          await new Promise((res) => setTimeout(res, 6000));
          expect((await get(id)).status).toBe('ready');
        } finally {
          await c.end();
        }
      }

      // Suspended again; a client library this time.
      await untilStatus(id, 'suspended', 30_000);
      const lib = await libraryQuery(e.engine, connection.url, e.count);
      expect(lib.value).toBe('3503');
      latencies.push(`${e.engine} (${e.engine === 'postgres' ? 'postgres.js' : 'mysql2'}): ${Math.round(lib.ms)} ms`);
      await untilStatus(id, 'ready', 30_000);

      // Destroy while suspended: no container, clone or listener left.
      await untilStatus(id, 'suspended', 30_000);
      expect(await accepts(connection.port)).toBe(true); // the controller's listener
      expect((await t.api('DELETE', `/api/v1/instances/${id}?wait=60`)).body.status).toBe('destroyed');
      const left = await leftovers(t);
      expect(left.containers.filter((n) => n.includes(id))).toEqual([]);
      expect(left.clones).not.toContain(id);
      expect(await accepts(connection.port)).toBe(false);
    }, 300_000);
  }

  it('after a controller restart, a suspended instance listens again and wakes', async () => {
    const r = await t.api('POST', '/api/v1/instances?wait=120', { template: 'chinook', name: 'idle-restart' });
    expect(r.body.status).toBe('ready');
    const { id, connection } = r.body;
    await untilStatus(id, 'suspended', 30_000);
    await t.stop();
    expect(await accepts(connection.port)).toBe(false);
    t = await startTestController({ dataDir, env });
    expect((await get(id)).status).toBe('suspended');
    expect(await psql(connection.url, 'select count(*) from album')).toBe('347');
    await untilStatus(id, 'ready', 30_000);
    expect((await t.api('DELETE', `/api/v1/instances/${id}?wait=60`)).body.status).toBe('destroyed');
  }, 300_000);
});
