// A node's pool agent on real btrfs pools: the controller's side (pool-agent-client) ships versions
// into a pool it does not mount, incrementally, verified; copies them back; lists, measures and
// removes them; and the agent refuses what it must: unsigned, wrongly signed, replayed or re-aimed
// requests, bad names, a cut stream (nothing half-received stays), and TLS without the right CA.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../controller/log.js';
import { AGENT_AUDIENCE } from '../../controller/domain/pool-access.js';
import { createCommandRunner } from '../../controller/host/command.js';
import { createBtrfsShipper, createLocalPool, type PoolAccess } from '../../controller/storage/btrfs-ship.js';
import { createPoolAgentClient } from '../../controller/storage/pool-agent-client.js';
import { createPoolAgentApp, listenAgent, type AgentServer } from '../../controller/volume/pool-agent.js';
import { makePrivatePool, type PrivatePool } from '../helpers/private-pool.js';
import { run } from '../helpers/testbed.js';

const TOKEN = randomBytes(32).toString('hex');
const V1 = 'v20260101t000000-aaaa';
const V2 = 'v20260102t000000-bbbb';

describe('pool agent: shipping into a pool on another machine', () => {
  const runner = createCommandRunner();
  const shipper = createBtrfsShipper();
  const log = createLogger(process.env.MYAAS_TEST_LOG ?? 'silent');
  let disk: PrivatePool;
  let src: PoolAccess;
  let back: PoolAccess;
  let nodeRoot: string;
  let server: AgentServer;
  let agent: PoolAccess;
  let url: string;

  /** A sealed version: a subvolume with a few files, made read-only. */
  async function makeVersion(root: string, v: string, from: string | null, files: Record<string, string>) {
    const dir = join(root, 'templates', 'tpl');
    await mkdir(dir, { recursive: true });
    if (from) await run('btrfs', ['subvolume', 'snapshot', join(dir, from), join(dir, v)]);
    else await run('btrfs', ['subvolume', 'create', join(dir, v)]);
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, v, name), text);
    await run('btrfs', ['property', 'set', '-ts', join(dir, v), 'ro', 'true']);
  }

  beforeAll(async () => {
    disk = await makePrivatePool('btrfs', '1g', 'agent');
    const srcRoot = join(disk.dir, 'controller');
    nodeRoot = join(disk.dir, 'node');
    const backRoot = join(disk.dir, 'standby');
    for (const d of [srcRoot, nodeRoot, backRoot]) await mkdir(d, { recursive: true });
    // v1 has 8 MiB of data; v2 changes one small file of it.
    await makeVersion(srcRoot, V1, null, { 'big.bin': randomBytes(8 << 20).toString('base64'), 'small.txt': 'one' });
    await makeVersion(srcRoot, V2, V1, { 'small.txt': 'two' });
    src = createLocalPool('controller', srcRoot, runner);
    back = createLocalPool('standby', backRoot, runner);
    const app = createPoolAgentApp({ pool: createLocalPool('this node', nodeRoot, runner), token: TOKEN, log });
    server = await listenAgent(app, { host: '127.0.0.1', port: 0 }, null);
    url = `http://127.0.0.1:${server.port}`;
    agent = createPoolAgentClient({ name: 'node2', url, token: TOKEN });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    // Received versions are read-only subvolumes: clear that, then the image goes with its mount.
    const { stdout } = await run('btrfs', ['subvolume', 'list', '-o', disk.dir]).catch(() => ({ stdout: '' }));
    for (const line of stdout.split('\n').filter(Boolean).reverse()) {
      const p = join(disk.dir, line.replace(/^.* path /, ''));
      await run('btrfs', ['property', 'set', '-f', '-ts', p, 'ro', 'false']).catch(() => undefined);
      await run('btrfs', ['subvolume', 'delete', p]).catch(() => undefined);
    }
    await disk?.close();
  }, 120_000);

  it('ships a version in full, then the next one incrementally, both verified and sealed on the node', async () => {
    const full = await shipper.ship({ template: 'tpl', version: V1, from: src, to: agent });
    expect(full).toMatchObject({ parent: null, alreadyThere: false });
    expect(full.streamBytes).toBeGreaterThan(8 << 20);
    const inc = await shipper.ship({ template: 'tpl', version: V2, from: src, to: agent, parents: [V1] });
    expect(inc.parent).toBe(V1);
    expect(inc.streamBytes).toBeLessThan(full.streamBytes / 20);
    expect(await agent.versions('tpl')).toEqual([V1, V2]);
    const there = join(nodeRoot, 'templates', 'tpl', V2);
    expect(await readFile(join(there, 'small.txt'), 'utf8')).toBe('two');
    expect((await run('btrfs', ['subvolume', 'show', there])).stdout).toMatch(/Flags:\s+readonly/);
    expect(await agent.info('tpl', V2)).toMatchObject({ readOnly: true, receivedUuid: (await src.info('tpl', V2))!.uuid });
    expect(await readdir(join(nodeRoot, 'staging'))).toEqual([]);
    // Again: nothing sent.
    expect(await shipper.ship({ template: 'tpl', version: V2, from: src, to: agent })).toMatchObject({ alreadyThere: true, streamBytes: 0 });
  });

  it('copies a version back from the node (as a new active controller does), incrementally', async () => {
    await shipper.ship({ template: 'tpl', version: V1, from: src, to: back });
    const r = await shipper.ship({ template: 'tpl', version: V2, from: agent, to: back, parents: [V1] });
    expect(r).toMatchObject({ parent: V1, alreadyThere: false });
    expect(await back.versions('tpl')).toEqual([V1, V2]);
    expect(await back.manifest('tpl', V2)).toBe(await src.manifest('tpl', V2));
  });

  it('answers the node\'s space and removes a version', async () => {
    const space = await agent.space();
    expect(space.totalBytes).toBeGreaterThan(500 << 20);
    expect(space.freeBytes).toBeGreaterThan(0);
    expect(space.freeBytes).toBeLessThanOrEqual(space.totalBytes);
    await agent.remove('tpl', V2);
    expect(await agent.versions('tpl')).toEqual([V1]);
    await agent.remove('tpl', V2); // not there: nothing to do
    expect(await agent.info('tpl', V2)).toBeNull();
  });

  it('a stream cut half-way leaves no version and no staging on the node', async () => {
    const expect2 = { origin: (await src.info('tpl', V2))!.uuid, manifest: await src.manifest('tpl', V2) };
    const sent = src.send('tpl', V2, null);
    let n = 0;
    const cut = new Readable({ read() {} });
    sent.stream.on('data', (d: Buffer) => {
      n += d.length;
      if (n < 256 * 1024) cut.push(d);
      else {
        sent.stream.destroy();
        cut.destroy(new Error('the line went down'));
      }
    });
    await expect(agent.receive('tpl', V2, cut, expect2)).rejects.toThrow(/node2's pool agent/);
    await sent.done.catch(() => undefined);
    // The agent notices the cut connection a moment later.
    for (let i = 0; i < 50 && (await readdir(join(nodeRoot, 'staging')).catch(() => [])).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await readdir(join(nodeRoot, 'staging'))).toEqual([]);
    expect(await agent.versions('tpl')).toEqual([V1]);
  });

  it('a stream that is whole but not what the source holds is refused, and nothing stays', async () => {
    // A real stream of V1 announced as V2's: the received copy's manifest is V1's, not V2's.
    const sent = src.send('tpl', V2, null);
    const wrong = { origin: (await src.info('tpl', V2))!.uuid, manifest: await src.manifest('tpl', V1) };
    await expect(agent.receive('tpl', V2, sent.stream, wrong)).rejects.toThrow(/file list differs/);
    await sent.done.catch(() => undefined);
    expect(await agent.versions('tpl')).toEqual([V1]);
    expect(await readdir(join(nodeRoot, 'staging'))).toEqual([]);
  });

  /** A raw request with a token signed as given (the client always signs correctly). */
  async function raw(method: string, path: string, token: string | null): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(`${url}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }
  const sign = (secret: string, method: string, path: string, jti = randomBytes(8).toString('hex')) =>
    new SignJWT({ htm: method, htu: path }).setProtectedHeader({ alg: 'HS256' }).setAudience(AGENT_AUDIENCE).setIssuedAt().setExpirationTime('60s').setJti(jti).sign(new TextEncoder().encode(secret));

  it('refuses unsigned, wrongly signed, replayed and re-aimed requests, and bad names', async () => {
    const path = '/v1/templates/tpl/versions';
    expect((await raw('GET', path, null)).status).toBe(401);
    const other = await raw('GET', path, await sign(randomBytes(32).toString('hex'), 'GET', path));
    expect(other.status).toBe(401);
    expect(other.body).toMatch(/same MYAAS_AGENT_TOKEN/);
    const once = await sign(TOKEN, 'GET', path);
    expect((await raw('GET', path, once)).status).toBe(200);
    expect((await raw('GET', path, once)).body).toMatch(/used before/);
    // Signed for a listing, sent as a removal.
    const aimed = await raw('DELETE', `/v1/templates/tpl/versions/${V1}`, await sign(TOKEN, 'GET', path));
    expect(aimed.status).toBe(401);
    expect(await agent.versions('tpl')).toEqual([V1]);
    const bad = '/v1/templates/..%2Fetc/versions';
    const r = await raw('GET', bad, await sign(TOKEN, 'GET', bad));
    expect(r.status).toBe(400);
    expect(r.body).toMatch(/invalid template or version name/);
    // The client refuses such names before sending anything.
    await expect(agent.versions('../etc')).rejects.toThrow(/invalid template/);
    // A wrong token on the client's side: the agent's refusal, said as such.
    const stranger = createPoolAgentClient({ name: 'node2', url, token: randomBytes(32).toString('hex') });
    await expect(stranger.versions('tpl')).rejects.toThrow(/node2's pool agent .*same MYAAS_AGENT_TOKEN/);
  });

  it('serves TLS: a client with the agent\'s CA ships, one without it is refused', async () => {
    const dir = join(disk.dir, 'tls');
    await mkdir(dir, { recursive: true });
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
    const cert = await readFile(join(dir, 'cert.pem'), 'utf8');
    const tlsServer = await listenAgent(createPoolAgentApp({ pool: createLocalPool('this node', nodeRoot, runner), token: TOKEN, log }), { host: '127.0.0.1', port: 0 }, { cert, key: await readFile(join(dir, 'key.pem'), 'utf8') });
    try {
      const tlsUrl = `https://127.0.0.1:${tlsServer.port}`;
      const trusting = createPoolAgentClient({ name: 'node2', url: tlsUrl, token: TOKEN, ca: cert });
      const r = await shipper.ship({ template: 'tpl', version: V2, from: src, to: trusting, parents: [V1] });
      expect(r).toMatchObject({ parent: V1, alreadyThere: false });
      expect(await trusting.versions('tpl')).toEqual([V1, V2]);
      const doubting = createPoolAgentClient({ name: 'node2', url: tlsUrl, token: TOKEN });
      await expect(doubting.versions('tpl')).rejects.toThrow(/self.signed certificate/);
    } finally {
      await tlsServer.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
