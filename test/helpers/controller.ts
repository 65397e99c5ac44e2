// Runs a real controller in-process on a real pool, Docker engine and state DB, listening on a free
// port, with its own data dir. `cleanup()` proves and restores a clean machine.
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { loadConfig } from '../../controller/config.js';
import { createLogger } from '../../controller/log.js';
import { buildController, type Controller } from '../../controller/main.js';
import { createSpecChecker, type SpecChecker } from './openapi-check.js';
import { chinookSql, IMAGES } from './testbed.js';

export const TOKEN = 'test-admin-token';

export interface TestController {
  url: string;
  dataDir: string;
  dumpsDir: string;
  controller: Controller;
  /**
   * fetch against the API with the admin token. Every reply is checked against the controller's
   * OpenAPI document; one that does not conform throws, failing the test that got it.
   */
  api<T = any>(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: T; headers: Headers }>;
  /** every non-conforming reply api() has seen (each also threw where it happened) */
  violations: string[];
  stop(): Promise<void>;
}

export async function startTestController(opts: {
  dataDir: string;
  storage?: string;
  databaseUrl?: string | null;
  env?: Record<string, string>;
  start?: boolean;
}): Promise<TestController> {
  await mkdir(opts.dataDir, { recursive: true });
  const dumpsDir = join(opts.dataDir, 'dumps');
  const config = loadConfig({
    MYAAS_DATA_DIR: opts.dataDir,
    MYAAS_STORAGE: opts.storage ?? 'auto',
    MYAAS_POSTGRES_IMAGE: IMAGES.postgres,
    MYAAS_MARIADB_IMAGE: IMAGES.mariadb,
    MYAAS_API_TOKENS: TOKEN,
    MYAAS_PUBLIC_HOST: '127.0.0.1',
    MYAAS_PUBLISH_IP: '127.0.0.1',
    MYAAS_MEMORY_LIMIT: '512m',
    MYAAS_RECONCILE_INTERVAL: '3600',
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
    ...opts.env,
  } as NodeJS.ProcessEnv);
  const log = createLogger(process.env.MYAAS_TEST_LOG ?? 'silent');
  const controller = await buildController(config, log);
  if (opts.start !== false) await controller.start();
  const server = serve({ fetch: controller.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((r) => server.once('listening', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await controller.announce(url);
  let stopped = false;
  let checker: SpecChecker | null = null;
  const violations: string[] = [];
  return {
    url,
    dataDir: opts.dataDir,
    dumpsDir,
    controller,
    violations,
    async api(method, path, body, token = TOKEN) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      const contentType = res.headers.get('content-type');
      const parsed = /json/.test(contentType ?? '') || !contentType ? (text ? JSON.parse(text) : null) : text;
      checker ??= createSpecChecker(await (await fetch(`${url}/api/v1/openapi.json`)).json());
      const wrong = checker.check({ method, path, status: res.status, contentType, body: parsed });
      if (wrong.length) {
        violations.push(...wrong);
        throw new Error(`the reply does not conform to the controller's OpenAPI document:\n  ${wrong.join('\n  ')}`);
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      server.close();
      await controller.close();
    },
  };
}

/** Puts the Chinook dumps in place: `chinook` (postgres) and `chinook-my` (mariadb). */
export async function addChinookDumps(dumpsDir: string): Promise<void> {
  await mkdir(join(dumpsDir, 'postgres'), { recursive: true });
  await mkdir(join(dumpsDir, 'mariadb'), { recursive: true });
  await writeFile(join(dumpsDir, 'postgres', 'chinook.sql'), await chinookSql('postgres'));
  await writeFile(join(dumpsDir, 'mariadb', 'chinook-my.sql'), await chinookSql('mysql'));
}

/** Imports through the API and waits for the version to settle. */
export async function importAndWait(t: TestController, template: string, timeoutMs = 300_000): Promise<any> {
  const r = await t.api('POST', `/api/v1/templates/${template}/import`);
  if (r.status !== 202) throw new Error(`import of ${template} not accepted: ${r.status} ${JSON.stringify(r.body)}`);
  const id = r.body.version.id;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ts = (await t.api('GET', '/api/v1/templates')).body as any[];
    const v = ts.find((x) => x.name === template)?.versions.find((x: any) => x.id === id);
    // A ready version's schema-only variant is cut after it (its container and staging dir exist
    // meanwhile): wait for that too, so that tests see a settled controller.
    const variant = ts.find((x) => x.name === `${template}:schema`)?.versions.find((x: any) => x.createdAt >= v?.createdAt);
    if (v && v.status !== 'importing' && (v.status !== 'ready' || (variant && variant.status !== 'importing'))) return v;
    if (Date.now() > deadline) throw new Error(`import of ${template} did not finish`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** What this controller left on the machine: containers (by its label) and clone dirs. */
export async function leftovers(t: TestController): Promise<{ containers: string[]; clones: string[]; staging: string[] }> {
  const containers = (await t.controller.runtime.list({ 'myaas.home': t.dataDir })).map((c) => c.name);
  const clones = await readdir(join(t.dataDir, 'instances')).catch(() => []);
  const staging = await readdir(join(t.dataDir, 'staging')).catch(() => []);
  return { containers, clones, staging };
}

/** Removes every container, clone and template version of this controller, then its data dir. */
export async function wipe(t: TestController): Promise<void> {
  // Stop first, so nothing is provisioning (or refilling a warm pool) while its pieces are removed.
  await t.stop().catch(() => {});
  for (const c of await t.controller.runtime.list({ 'myaas.home': t.dataDir })) await t.controller.runtime.remove(c.id);
  for (const id of await readdir(join(t.dataDir, 'instances')).catch(() => [])) await t.controller.storage.remove(join(t.dataDir, 'instances', id));
  for (const tpl of await readdir(join(t.dataDir, 'templates')).catch(() => [])) {
    for (const v of await readdir(join(t.dataDir, 'templates', tpl))) await t.controller.storage.remove(join(t.dataDir, 'templates', tpl, v));
  }
  await rm(t.dataDir, { recursive: true, force: true });
}
