// The status page and the metrics on a real controller (Docker, the btrfs pool, PGlite, the Chinook
// dump): the clone-to-ready histogram moves when a real instance is made, and Debian's Chromium,
// driven by playwright-core, logs in, sees the instance and saves docs/status-page.png.
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addChinookDumps, importAndWait, leftovers, startTestController, TOKEN, wipe, type TestController } from '../helpers/controller.js';
import { parsePromText, sampleValue } from '../helpers/prom-text.js';
import { POOLS, requireDocker, requirePool } from '../helpers/testbed.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = fileURLToPath(new URL('../../docs/status-page.png', import.meta.url));
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

describe('status page and metrics on a real controller', () => {
  let t: TestController;
  let problem: unknown = null;
  let pr: { id: string; name: string } | null = null;

  beforeAll(async () => {
    try {
      await access(CHROMIUM).catch(() => {
        throw new Error(`${CHROMIUM} is missing: run sudo scripts/setup-host.sh (it installs Debian's chromium)`);
      });
      await requireDocker();
      requirePool(POOLS.btrfs, 'btrfs');
      t = await startTestController({ dataDir: join(POOLS.btrfs, `ops-status-${process.pid}`), storage: 'btrfs' });
      await addChinookDumps(t.dumpsDir);
      // A dump that fails, so the page has a failure to show.
      await writeFile(join(t.dumpsDir, 'postgres', 'broken.sql'), 'CREATE TABLE half (id int;\n');
      const [good, bad] = await Promise.all([importAndWait(t, 'chinook'), importAndWait(t, 'broken')]);
      if (good.status !== 'ready') throw new Error(`chinook import ${good.status}: ${good.error}`);
      if (bad.status !== 'failed') throw new Error(`broken import should fail, got ${bad.status}`);
    } catch (e) {
      problem = e; // fail every test with the reason (a throw here would only skip them)
    }
  });
  beforeEach(() => {
    if (problem) throw problem;
  });
  afterAll(async () => {
    if (!t) return;
    await wipe(t);
    const left = await leftovers(t);
    expect(left.containers).toEqual([]);
  });

  const scrape = async () => {
    const res = await fetch(`${t.url}/api/v1/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePromText(await res.text());
  };

  it('metrics: a real instance moves the clone-to-ready histogram; pool, instances and imports are exposed', async () => {
    const before = await scrape();
    const count = (f: typeof before) => sampleValue(f, 'myaas_clone_to_ready_seconds_count', { template: 'chinook', engine: 'postgres' }) ?? 0;
    const r = await t.api('POST', '/api/v1/instances?wait=90', { template: 'chinook', owner: { kind: 'pull', repository: 'octo/app', number: 7 } });
    expect(r.status).toBe(201);
    expect(r.body.status, r.body.error).toBe('ready');
    pr = { id: r.body.id, name: r.body.name };

    const after = await scrape();
    expect(count(after)).toBe(count(before) + 1);
    expect(sampleValue(after, 'myaas_clone_to_ready_seconds_sum', { template: 'chinook' })).toBeGreaterThan(0);
    expect(sampleValue(after, 'myaas_provision_step_seconds_count', { engine: 'postgres', step: 'probe' })).toBe(count(after));
    expect(sampleValue(after, 'myaas_instances', { template: 'chinook', status: 'ready' })).toBe(1);
    expect(sampleValue(after, 'myaas_import_duration_seconds_count', { template: 'chinook', outcome: 'ready' })).toBe(1);
    expect(sampleValue(after, 'myaas_import_duration_seconds_count', { template: 'broken', outcome: 'failed' })).toBe(1);
    expect(sampleValue(after, 'myaas_reconcile_pass_seconds_count', { outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(after, 'myaas_reconcile_sweep_seconds_count')).toBeGreaterThanOrEqual(1); // the start-up sweep
    const used = sampleValue(after, 'myaas_pool_used_bytes', { path: t.dataDir })!;
    const free = sampleValue(after, 'myaas_pool_free_bytes', { path: t.dataDir })!;
    expect(used).toBeGreaterThan(0);
    expect(free).toBeGreaterThan(0);
    expect(used + free).toBeLessThanOrEqual(sampleValue(after, 'myaas_pool_size_bytes', { path: t.dataDir })!);
    expect(after.get('process_resident_memory_bytes')?.type).toBe('gauge');
    expect((await fetch(`${t.url}/api/v1/metrics`)).status).toBe(401);
  });

  it('Chromium: nothing without logging in; the token logs in; the page shows the instance; screenshot', async () => {
    expect(pr, 'the metrics test creates the instance').not.toBeNull();
    // A second instance, of a person, with an expiry, so the page shows both kinds of owner.
    const alice = await t.api('POST', '/api/v1/instances?wait=90', { template: 'chinook', name: 'alice', ttl: '2h' });
    expect(alice.body.status, alice.body.error).toBe('ready');

    const profile = await mkdtemp(join(tmpdir(), 'myaas-chromium-'));
    let ctx: BrowserContext | null = null;
    try {
      ctx = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 800 },
      });
      const page = await ctx.newPage();

      const first = await page.goto(t.url);
      expect(first?.status()).toBe(401);
      await expect(page.locator('input[name="token"]').isVisible()).resolves.toBe(true);
      expect(await page.content()).not.toContain(pr!.name);

      await page.fill('input[name="token"]', 'wrong-token');
      await Promise.all([page.waitForURL(`${t.url}/login`), page.click('button[type="submit"]')]);
      expect(await page.textContent('[role="alert"]')).toContain('Unknown API token');

      await page.fill('input[name="token"]', TOKEN);
      await Promise.all([page.waitForURL(`${t.url}/`), page.click('button[type="submit"]')]);
      expect(page.url()).toBe(`${t.url}/`);
      expect(page.url()).not.toContain(TOKEN);
      const [cookie] = (await ctx.cookies()).filter((c) => c.name === 'myaas_session');
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: false, path: '/' });
      expect(cookie.value).not.toContain(TOKEN);
      expect(await page.evaluate(() => document.cookie)).toBe('');

      const row = page.locator('tr', { hasText: pr!.name });
      await expect(row.count()).resolves.toBe(1);
      expect(await row.locator('a').getAttribute('href')).toBe('https://github.com/octo/app/pull/7');
      expect(await row.locator('a').textContent()).toBe('octo/app#7');
      const cells = await row.locator('td').allTextContents();
      expect(cells[3]).toContain('ready');
      expect(cells[6]).toMatch(/^\d+(\.\d)? MiB$/); // memory of the running container
      expect(cells[7]).toMatch(/^\S+ (B|KiB|MiB) \/ \d+(\.\d)? MiB$/); // own / data bytes of its clone
      expect(await page.locator('tr', { hasText: 'alice' }).locator('td').nth(5).textContent()).toMatch(/^in (1 h 59 min|2 h)/);
      expect(await page.locator('tr', { hasText: 'chinook' }).first().textContent()).toContain('postgres');
      const failures = await page.locator('section', { hasText: 'Recent failures' }).textContent();
      expect(failures).toContain('broken');
      expect(failures).toMatch(/syntax error/);
      expect(await page.locator('.card', { hasText: /^Pool \(btrfs\)/ }).textContent()).toMatch(/free of \d+(\.\d)? GiB/);

      await mkdir(join(SCREENSHOT, '..'), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      await Promise.all([page.waitForURL(`${t.url}/`), page.click('header button[type="submit"]')]);
      await expect(page.locator('input[name="token"]').isVisible()).resolves.toBe(true);
      expect(await page.content()).not.toContain(pr!.name);
    } finally {
      await ctx?.close();
      await rm(profile, { recursive: true, force: true });
    }
  });
});
