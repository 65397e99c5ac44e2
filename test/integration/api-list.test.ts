// GET /api/v1/instances with 500 instances in the state DB (PGlite and PostgreSQL): every page and
// filter right over the real query, `myaas ls`'s client paging through, and the latency printed
// (median of several; not asserted, the machine is shared). Rows are written through the store: a
// list needs no containers behind them.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliClient } from '../../controller/cli-client.js';
import { startTestController, TOKEN, wipe, type TestController } from '../helpers/controller.js';
import { instanceRow } from '../helpers/instance-rows.js';
import { startStatePostgres } from '../helpers/state-postgres.js';
import { POOLS, requireDocker, requirePool } from '../helpers/testbed.js';

const ROWS = 500;

describe.each([
  ['PGlite', false],
  ['PostgreSQL', true],
])('GET /api/v1/instances with %s and 500 instances', (label, realPostgres) => {
  let t: TestController;
  let pg: { url: string; stop(): Promise<void> } | null = null;
  const dataDir = join(POOLS.btrfs, `it-list-${label.toLowerCase()}-${process.pid}`);

  beforeAll(async () => {
    await requireDocker();
    requirePool(POOLS.btrfs, 'btrfs');
    if (realPostgres) pg = await startStatePostgres();
    // Not started: no reconciler pass wakes the rows (they have no template version to clone).
    t = await startTestController({ dataDir, databaseUrl: pg?.url ?? null, start: false });
    for (let n = 0; n < ROWS; n++) await t.controller.store.getOrCreateInstance(instanceRow(n));
    // Neither the warm pool's unclaimed instances nor destroyed ones are listed.
    await t.controller.store.getOrCreateInstance(instanceRow(900, { owner: 'pool:w1', name: 'warm-1' }));
    await t.controller.store.getOrCreateInstance(instanceRow(901, { status: 'destroyed', name: 'gone' }));
  });
  afterAll(async () => {
    if (t) await wipe(t);
    else await rm(dataDir, { recursive: true, force: true });
    await pg?.stop();
  });

  it('pages through all of them once, oldest first, following the Link header', async () => {
    const ids: string[] = [];
    let path: string | null = '/api/v1/instances';
    let pages = 0;
    while (path) {
      const r: { status: number; body: any; headers: Headers } = await t.api('GET', path);
      expect(r.status).toBe(200);
      expect(r.body.length).toBeLessThanOrEqual(100);
      ids.push(...r.body.map((i: any) => i.id));
      pages++;
      path = /^<([^>]+)>; rel="next"$/.exec(r.headers.get('link') ?? '')?.[1] ?? null;
    }
    expect(pages).toBe(5);
    expect(ids).toEqual(Array.from({ length: ROWS }, (_, n) => instanceRow(n).id));
  });

  it('filters in the query, and `myaas ls`\'s client pages through what matches', async () => {
    const client = createCliClient(t.url, TOKEN);
    const all = await client.list();
    expect(all).toHaveLength(ROWS);
    expect(all.every((i) => i.connection === null)).toBe(true);
    const expected = all.filter((i) => i.template === 'shop' && i.status === 'failed').map((i) => i.id);
    expect((await client.list({ template: 'shop', status: 'failed' })).map((i) => i.id)).toEqual(expected);
    expect((await client.list({ owner: 'api:user-7,api:user-400' })).map((i) => i.name)).toEqual(['row-7', 'row-400']);
    const page = await t.api('GET', '/api/v1/instances?template=chinook&status=ready&limit=1000');
    expect(page.body.every((i: any) => i.template === 'chinook' && i.status === 'ready')).toBe(true);
    expect(page.body).toHaveLength(all.filter((i) => i.template === 'chinook' && i.status === 'ready').length);
    expect((await t.api('GET', '/api/v1/instances?status=destroyed')).status).toBe(400);
  });

  it('reports how long a list takes (median of 9 after a warm-up)', async () => {
    const time = async (path: string, rows: number) => {
      const ms: number[] = [];
      for (let k = 0; k < 10; k++) {
        const t0 = performance.now();
        const r = await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
        const body = (await r.json()) as unknown[];
        if (k > 0) ms.push(performance.now() - t0);
        expect(body).toHaveLength(rows);
      }
      ms.sort((a, b) => a - b);
      return ms[Math.floor(ms.length / 2)].toFixed(1);
    };
    const firstPage = await time('/api/v1/instances', 100);
    const all = await time('/api/v1/instances?limit=1000', ROWS);
    const filtered = await time('/api/v1/instances?template=shop&status=failed', 34);
    const cursor = /cursor=([^&>]+)/.exec((await t.api('GET', '/api/v1/instances?limit=400')).headers.get('link') ?? '')?.[1];
    const deep = await time(`/api/v1/instances?cursor=${cursor}`, 100);
    console.log(`GET /api/v1/instances, ${label}, ${ROWS} rows: first page of 100 ${firstPage} ms; all ${ROWS} ${all} ms; filtered (34) ${filtered} ms; page after 400 ${deep} ms`);
  });
});
