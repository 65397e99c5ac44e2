// The controller image as an operator runs it: built from this checkout by scripts/build-image.sh on the
// local base (no registry), started by deploy/compose.yaml with docker-compose against the real engine
// and btrfs pool, with its own data dir, port, container name and project. Through its API it imports
// the bundled Chinook sample and hands out an instance that psql on the host queries; reset, destroy,
// and a crash that the restart policy recovers from. Everything it made is removed afterwards.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../../controller/runtime/index.js';
import { createCommandRunner } from '../../controller/host/command.js';
import { createStorage } from '../../controller/storage/index.js';
import { freeTcpPort } from '../helpers/process.js';
import { CHINOOK_GZ, IMAGES, POOLS, psql, requireDocker, requirePool, run, until } from '../helpers/testbed.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BASE = process.env.MYAAS_TEST_NODE_BASE ?? 'myaas-local/node:24';
// The host's CA bundle, for `npm ci` inside the build behind a TLS-intercepting proxy.
const CA = process.env.MYAAS_TEST_NPM_CA ?? '/etc/ssl/certs/ca-certificates.crt';
// `docker compose` (v2) is not installable on Debian 12; set MYAAS_TEST_COMPOSE="docker compose" where it is.
const COMPOSE = (process.env.MYAAS_TEST_COMPOSE ?? 'docker-compose').split(' ');
const TOKEN = 'image-test-token';

const id = `deploy-img-${process.pid}`;
const tag = `myaas-test/controller:${id}`;
const name = `myaas-test-${id}`;
const dataDir = join(POOLS.btrfs, `it-${id}`);
const dumpsDir = join(dataDir, 'dumps');
const runtime = createRuntime('docker');
const storage = createStorage('btrfs', createCommandRunner());
let port = 0;
let built = false;
let buildLog = '';

/** The environment compose sees: only what the test sets, so nothing from the caller's shell leaks in. */
function composeEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    MYAAS_IMAGE: tag,
    MYAAS_CONTAINER_NAME: name,
    MYAAS_DATA_DIR: dataDir,
    MYAAS_DUMPS_DIR: dumpsDir,
    MYAAS_PORT: String(port),
    MYAAS_API_TOKENS: TOKEN,
    MYAAS_PUBLIC_HOST: '127.0.0.1',
    MYAAS_POSTGRES_IMAGE: IMAGES.postgres,
    MYAAS_MARIADB_IMAGE: IMAGES.mariadb,
    // Passed through by compose.yaml: instances only on loopback, as in the other integration tests.
    MYAAS_PUBLISH_IP: '127.0.0.1',
  };
}

const compose = (...args: string[]) =>
  run(COMPOSE[0], [...COMPOSE.slice(1), '-p', name, '-f', join(ROOT, 'deploy/compose.yaml'), ...args], {
    env: composeEnv(),
    timeout: 300_000,
  });

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const healthy = () =>
  until('the controller container to answer /api/v1/healthz', async () => {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/healthz`);
      return r.ok && ((await r.json()) as { storage: string });
    } catch {
      return null;
    }
  }, 180_000);

async function inspect(): Promise<any> {
  const { stdout } = await run('docker', ['inspect', name]);
  return JSON.parse(stdout)[0];
}

describe('controller image via deploy/compose.yaml', () => {
  beforeAll(async () => {
    await requireDocker();
    requirePool(POOLS.btrfs, 'btrfs');
    await run('docker', ['image', 'inspect', BASE]).catch(() => {
      throw new Error(`base image ${BASE} is missing; run sudo scripts/setup-host.sh to build it`);
    });
    await run(COMPOSE[0], [...COMPOSE.slice(1), 'version']).catch(() => {
      throw new Error(`${COMPOSE.join(' ')} is missing; run sudo scripts/setup-host.sh (installs docker-compose)`);
    });
    await mkdir(join(dumpsDir, 'postgres'), { recursive: true });
    await copyFile(CHINOOK_GZ.postgres, join(dumpsDir, 'postgres', 'chinook.sql.gz'));
    port = await freeTcpPort();
  });

  afterAll(async () => {
    await compose('down', '--timeout', '20').catch(() => {});
    await run('docker', ['rm', '-f', name]).catch(() => {});
    for (const c of await runtime.list({ 'myaas.home': dataDir })) await runtime.remove(c.id);
    for (const d of await readdir(join(dataDir, 'instances')).catch(() => [])) await storage.remove(join(dataDir, 'instances', d));
    for (const t of await readdir(join(dataDir, 'templates')).catch(() => [])) {
      for (const v of await readdir(join(dataDir, 'templates', t))) await storage.remove(join(dataDir, 'templates', t, v));
    }
    await rm(dataDir, { recursive: true, force: true });
    if (built) await run('docker', ['rmi', tag]).catch(() => {});
  });

  it('builds from a small context on the local base, with the CA bundle only in the build stage', async () => {
    const args = ['-t', tag, '--base', BASE];
    if (existsSync(CA)) args.push('--ca', CA);
    const r = await run('bash', [join(ROOT, 'scripts/build-image.sh'), ...args], { cwd: ROOT, timeout: 900_000, maxBuffer: 64 << 20 });
    built = true;
    buildLog = r.stdout + r.stderr;
    // .dockerignore keeps node_modules (~600 MB), .git and bench data out of the context.
    const m = /Sending build context to Docker daemon\s+([0-9.]+)([kMG]?B)/.exec(buildLog);
    expect(m, buildLog.slice(0, 2000)).not.toBeNull();
    const bytes = Number(m![1]) * { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[m![2] as 'B' | 'kB' | 'MB' | 'GB'];
    expect(bytes).toBeLessThan(5e6);
    expect(existsSync(join(ROOT, 'npm-ca.pem'))).toBe(false);

    // The certificates never reach the final image: not in its files, its history or its config.
    const { stdout: history } = await run('docker', ['history', '--no-trunc', '--format', '{{.CreatedBy}}', tag]);
    expect(history).not.toMatch(/BEGIN CERTIFICATE|npm-ca/);
    const { stdout: config } = await run('docker', ['image', 'inspect', tag]);
    expect(config).not.toMatch(/BEGIN CERTIFICATE|npm-ca|NODE_EXTRA_CA_CERTS/);
    const { stdout: files } = await run('docker', ['run', '--rm', '--entrypoint', 'sh', tag, '-c',
      'node --version; test -e /app/npm-ca.pem && echo CA-PRESENT; grep -rl "BEGIN CERTIFICATE" /app/*.pem /tmp 2>/dev/null; for c in btrfs chattr myaas; do command -v $c; done']);
    expect(files).toMatch(/^v24\.[0-9.]+\n\/usr\/(s?bin)\/btrfs\n\/usr\/(s?bin)\/chattr\n\/usr\/local\/bin\/myaas\n$/);
  }, 900_000);

  it('starts with the host network and three capabilities, not privileged', async () => {
    expect(built).toBe(true);
    await compose('up', '-d', '--no-build');
    expect((await healthy()).storage).toBe('btrfs');
    const c = await inspect();
    expect(c.HostConfig.Privileged).toBe(false);
    expect(c.HostConfig.NetworkMode).toBe('host');
    expect(c.HostConfig.CapAdd.map((x: string) => x.replace(/^CAP_/, '')).sort()).toEqual(['LINUX_IMMUTABLE', 'NET_ADMIN', 'SYS_ADMIN']);
    expect(c.HostConfig.RestartPolicy.Name).toBe('unless-stopped');
    const binds: string[] = c.HostConfig.Binds;
    expect(binds).toContain(`${dataDir}:${dataDir}:rw`);
    expect(binds).toContain(`${dumpsDir}:${dumpsDir}:ro`);
  }, 300_000);

  it('imports Chinook, hands out an instance psql on the host can query, resets and destroys it', async () => {
    const imp = await api('POST', '/api/v1/templates/chinook/import');
    expect(imp.status).toBe(202);
    const v = await until('the import', async () => {
      const t = (await api('GET', '/api/v1/templates')).body.find((x: any) => x.name === 'chinook');
      const ver = t?.versions.find((x: any) => x.id === imp.body.version.id);
      return ver && ver.status !== 'importing' && ver;
    }, 300_000);
    expect(v.status, v.error).toBe('ready');

    const created = await api('POST', '/api/v1/instances?wait=120', { template: 'chinook', name: 'img' });
    expect(created.status).toBe(201);
    expect(created.body.status, created.body.error).toBe('ready');
    const url: string = created.body.connection.url;
    expect(url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:[0-9]+\/chinook$/);
    expect(await psql(url, 'select count(*) from track')).toBe('3503');
    await psql(url, 'delete from invoice_line');

    const reset = await api('POST', `/api/v1/instances/${created.body.id}/reset?wait=120`);
    expect(reset.body.status, reset.body.error).toBe('ready');
    expect(await psql(url, 'select count(*) from invoice_line')).toBe('2240');

    const gone = await api('DELETE', `/api/v1/instances/${created.body.id}?wait=60`);
    expect(gone.body.status).toBe('destroyed');
    expect(await runtime.list({ 'myaas.home': dataDir, 'myaas.instance': created.body.id })).toEqual([]);
    expect(await readdir(join(dataDir, 'instances'))).toEqual([]);
  }, 600_000);

  it('comes back by its restart policy after the controller is killed, state intact', async () => {
    const c = await inspect();
    const before = c.RestartCount as number;
    // A crash, as Docker sees one: the process dies on its own. (`docker kill` counts as a manual
    // stop, which unless-stopped rightly leaves stopped.)
    await run('kill', ['-KILL', String(c.State.Pid)]);
    await until('the restart policy to start the controller again', async () => (await inspect()).RestartCount > before, 120_000);
    await healthy();
    const t = (await api('GET', '/api/v1/templates')).body.find((x: any) => x.name === 'chinook');
    expect(t.latest).toBeTruthy();
    const again = await api('POST', '/api/v1/instances?wait=120', { template: 'chinook', name: 'after-restart' });
    expect(again.body.status, again.body.error).toBe('ready');
    expect(await psql(again.body.connection.url, 'select count(*) from artist')).toBe('275');
    expect((await api('DELETE', `/api/v1/instances/${again.body.id}?wait=60`)).body.status).toBe('destroyed');
  }, 300_000);
});
