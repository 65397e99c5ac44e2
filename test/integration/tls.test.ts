// Transport (issue 9, item 11): the controller serves HTTPS with MYAAS_TLS_CERT/_KEY, and instances
// offer TLS: with the per-host self-signed certificate the controller makes (clients verify it with
// <data dir>/tls/instances-ca.crt), or with a configured CA-issued one (MYAAS_INSTANCE_TLS_CERT/_KEY).
// Real clients: psql with sslmode=require / verify-ca / verify-full, and the mariadb client with --ssl.
import { request } from 'node:https';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../controller/config.js';
import { createLogger } from '../../controller/log.js';
import { buildController, listen } from '../../controller/main.js';
import { addChinookDumps, importAndWait, startTestController, wipe, type TestController } from '../helpers/controller.js';
import { dropIsolatedNetwork } from '../helpers/isolation.js';
import { cleanupAll, makePrivatePool, type PrivatePool } from '../helpers/private-pool.js';
import { IMAGES, mariadb, psql, requireDocker, run } from '../helpers/testbed.js';

const NETWORK = `myaas-tls-${process.pid}`;

/** A CA and a certificate it issued for 127.0.0.1, made with openssl in `dir`. */
async function makeCa(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const p = (n: string) => join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-days', '30', '-subj', '/CN=test CA', '-keyout', p('ca.key'), '-out', p('ca.crt')]);
  await run('openssl', ['req', ...ec, '-subj', '/CN=127.0.0.1', '-keyout', p('leaf.key'), '-out', p('leaf.csr')]);
  await writeFile(p('leaf.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  await run('openssl', ['x509', '-req', '-in', p('leaf.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '30', '-extfile', p('leaf.ext'), '-out', p('leaf.crt')]);
  return { ca: p('ca.crt'), cert: p('leaf.crt'), key: p('leaf.key') };
}

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS for the controller and for instances', () => {
  let pool: PrivatePool | null = null;
  let t: TestController | null = null;
  let certs = '';
  let ca: { ca: string; cert: string; key: string };

  const env = (more: Record<string, string> = {}) => ({ MYAAS_DOCKER_NETWORK: NETWORK, MYAAS_DISK_LIMIT: '0', ...more });

  beforeAll(async () => {
    await requireDocker();
    certs = await mkdtemp(join(tmpdir(), 'myaas-tls-'));
    ca = await makeCa(certs);
    pool = await makePrivatePool('btrfs', '3G', 'tls');
    t = await startTestController({ dataDir: join(pool.dir, 'data'), env: env() });
    await addChinookDumps(t.dumpsDir);
    const [pg, my] = await Promise.all([importAndWait(t, 'chinook'), importAndWait(t, 'chinook-my')]);
    if (pg.status !== 'ready' || my.status !== 'ready') throw new Error(`imports failed: ${pg.error ?? ''} ${my.error ?? ''}`);
  });

  afterAll(async () => {
    await cleanupAll([() => t && wipe(t), () => dropIsolatedNetwork(NETWORK), () => pool?.close(), () => certs && rm(certs, { recursive: true, force: true })]);
  });

  it('serves the API over HTTPS with the configured certificate, and not over plain HTTP', async () => {
    const config = loadConfig({
      MYAAS_DATA_DIR: join(pool!.dir, 'https'), MYAAS_HOST: '127.0.0.1', MYAAS_TLS_CERT: ca.cert, MYAAS_TLS_KEY: ca.key,
      MYAAS_POSTGRES_IMAGE: IMAGES.postgres, MYAAS_MARIADB_IMAGE: IMAGES.mariadb, MYAAS_DOCKER_NETWORK: NETWORK, MYAAS_DISK_LIMIT: '0',
    } as NodeJS.ProcessEnv);
    const c = await buildController(config, createLogger('silent'));
    const server = listen(c.app, config, 0);
    try {
      await new Promise<void>((r) => server.once('listening', () => r()));
      const port = (server.address() as AddressInfo).port;
      const r = await httpsGet(`https://127.0.0.1:${port}/healthz`, await readFile(ca.ca, 'utf8'));
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ ok: true, storage: 'btrfs' });
      // A client that does not trust the certificate is turned away, and so is plain HTTP.
      await expect(httpsGet(`https://127.0.0.1:${port}/healthz`, '')).rejects.toThrow(/certificate/i);
      await expect(fetch(`http://127.0.0.1:${port}/healthz`).then((x) => x.text())).rejects.toThrow();
    } finally {
      server.close();
      await c.close();
    }
  });

  it('offers TLS on instances with the self-signed certificate of the host', async () => {
    const caFile = join(t!.dataDir, 'tls', 'instances-ca.crt');
    const pg = await t!.api('POST', '/api/v1/instances?wait=90', { template: 'chinook', name: 'pg-tls' });
    expect(pg.body.status, pg.body.error).toBe('ready');
    const url = pg.body.connection.url;
    const sslUsed = 'select ssl from pg_stat_ssl where pid = pg_backend_pid()';
    expect(await psql(`${url}?sslmode=require`, sslUsed)).toBe('t');
    expect(await psql(`${url}?sslmode=verify-ca&sslrootcert=${caFile}`, sslUsed)).toBe('t');
    expect(await psql(`${url}?sslmode=verify-full&sslrootcert=${caFile}`, sslUsed)).toBe('t');
    // Clients that do not ask for TLS still connect (it is offered, not required).
    expect(await psql(`${url}?sslmode=disable`, sslUsed)).toBe('f');

    const my = await t!.api('POST', '/api/v1/instances?wait=90', { template: 'chinook-my', name: 'my-tls' });
    expect(my.body.status, my.body.error).toBe('ready');
    const u = new URL(my.body.connection.url);
    const { stdout } = await run('mariadb', [
      '-h', u.hostname, '-P', u.port, '-u', u.username, `-p${decodeURIComponent(u.password)}`, '--ssl', `--ssl-ca=${caFile}`, '--ssl-verify-server-cert',
      '-N', '-B', '-e', "SHOW STATUS LIKE 'Ssl_cipher'",
    ]);
    expect(stdout.trim()).toMatch(/^Ssl_cipher\s+\S+/);
    expect(await mariadb(my.body.connection.url, 'SELECT COUNT(*) FROM Track')).toBe('3503');
    for (const i of [pg, my]) expect((await t!.api('DELETE', `/api/v1/instances/${i.body.id}?wait=60`)).body.status).toBe('destroyed');
  });

  it('offers a configured CA-issued certificate instead', async () => {
    const dataDir = t!.dataDir;
    await t!.stop();
    t = await startTestController({ dataDir, env: env({ MYAAS_INSTANCE_TLS_CERT: ca.cert, MYAAS_INSTANCE_TLS_KEY: ca.key }) });
    const pg = await t.api('POST', '/api/v1/instances?wait=90', { template: 'chinook', name: 'pg-ca' });
    expect(pg.body.status, pg.body.error).toBe('ready');
    expect(await psql(`${pg.body.connection.url}?sslmode=verify-full&sslrootcert=${ca.ca}`, 'select ssl from pg_stat_ssl where pid = pg_backend_pid()')).toBe('t');
    expect((await t.api('DELETE', `/api/v1/instances/${pg.body.id}?wait=60`)).body.status).toBe('destroyed');
  });
});
