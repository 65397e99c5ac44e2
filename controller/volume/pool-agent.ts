// A node's pool agent: what lets a controller on another machine ship template versions into this
// node's pool, copy them back, list, remove and measure them. It runs in `myaas volume-plugin` when
// MYAAS_AGENT_LISTEN is set, over the same pool the plugin clones from. It offers named operations
// on template versions only (never "run this program"), each request signed with the shared
// MYAAS_AGENT_TOKEN for exactly that method and path, valid for a minute and once.
// storage/pool-agent-client.ts is the other end.
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { Readable } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { jwtVerify } from 'jose';
import { AppError, isAppError, messageOf } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import { AGENT_AUDIENCE, isShipName, type PoolAccess } from '../domain/pool-access.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SHA256 = /^[0-9a-f]{64}$/;

export interface PoolAgentOptions {
  pool: PoolAccess;
  /** the shared secret; at least 32 characters */
  token: string;
  log: Logger;
}

/** Remembers the one-time ids of tokens until they expire, so none is accepted twice. */
function replayGuard() {
  const seen = new Map<string, number>();
  return (jti: string, expSec: number): boolean => {
    const now = Date.now();
    for (const [k, exp] of seen) if (exp * 1000 < now) seen.delete(k);
    if (seen.has(jti)) return false;
    seen.set(jti, expSec);
    return true;
  };
}

export function createPoolAgentApp(opts: PoolAgentOptions): Hono {
  const { pool, log } = opts;
  if (opts.token.length < 32) throw new AppError('bad_request', 'MYAAS_AGENT_TOKEN must be at least 32 characters (e.g. openssl rand -hex 32)');
  const key = new TextEncoder().encode(opts.token);
  const fresh = replayGuard();
  const app = new Hono();

  const fail = (c: Context, status: 400 | 401 | 404 | 409 | 500, code: string, message: string) => c.json({ error: { code, message } }, status);

  app.get('/healthz', (c) => c.json({ ok: true }));

  app.use('/v1/*', async (c, next) => {
    const auth = c.req.header('authorization') ?? '';
    const token = /^Bearer (\S+)$/.exec(auth)?.[1];
    if (!token) return fail(c, 401, 'unauthorized', 'a pool agent request needs Authorization: Bearer <token signed with MYAAS_AGENT_TOKEN>');
    const url = new URL(c.req.url);
    try {
      const { payload } = await jwtVerify(token, key, { audience: AGENT_AUDIENCE, algorithms: ['HS256'], maxTokenAge: '2m', requiredClaims: ['jti', 'exp', 'iat'] });
      if (payload.htm !== c.req.method || payload.htu !== url.pathname + url.search) throw new Error('the token was signed for another request');
      if (!fresh(String(payload.jti), Number(payload.exp))) throw new Error('the token was used before');
    } catch (e) {
      log.warn({ method: c.req.method, path: url.pathname, err: messageOf(e) }, 'pool agent request refused');
      return fail(c, 401, 'unauthorized', `the request's token is not valid here (${messageOf(e)}): the controller and this node need the same MYAAS_AGENT_TOKEN`);
    }
    await next();
  });

  /** The route's names, validated. */
  const names = (c: Context) => {
    const t = c.req.param('t') ?? '';
    const v = c.req.param('v');
    if (!isShipName(t) || (v !== undefined && !isShipName(v))) throw new AppError('invalid_name', `invalid template or version name in ${c.req.path}`);
    return { t, v: v ?? '' };
  };

  app.get('/v1/space', async (c) => c.json(await pool.space()));
  app.get('/v1/templates/:t/versions', async (c) => c.json({ versions: await pool.versions(names(c).t) }));
  app.get('/v1/templates/:t/versions/:v', async (c) => {
    const { t, v } = names(c);
    const info = await pool.info(t, v);
    return info ? c.json(info) : fail(c, 404, 'not_found', `${t}/${v} is not on this node`);
  });
  app.get('/v1/templates/:t/versions/:v/manifest', async (c) => {
    const { t, v } = names(c);
    if (!(await pool.info(t, v))) return fail(c, 404, 'not_found', `${t}/${v} is not on this node`);
    return c.json({ manifest: await pool.manifest(t, v) });
  });
  app.get('/v1/templates/:t/versions/:v/send', async (c) => {
    const { t, v } = names(c);
    const parent = c.req.query('parent') ?? null;
    if (parent !== null && !isShipName(parent)) throw new AppError('invalid_name', `invalid parent version ${JSON.stringify(parent)}`);
    const info = await pool.info(t, v);
    if (!info?.readOnly) return fail(c, 404, 'not_found', `${t}/${v} is not sealed on this node`);
    const sent = pool.send(t, v, parent);
    const t0 = Date.now();
    sent.done.then(
      () => log.info({ template: t, version: v, parent, ms: Date.now() - t0 }, 'version sent'),
      (e: unknown) => log.warn({ template: t, version: v, parent, err: messageOf(e) }, 'sending a version failed; the connection is cut'),
    );
    // A failed send errors the stream, and Hono's Node adapter then cuts the connection.
    return new Response(Readable.toWeb(sent.stream) as ReadableStream, { headers: { 'content-type': 'application/octet-stream' } });
  });
  app.put('/v1/templates/:t/versions/:v', async (c) => {
    const { t, v } = names(c);
    const origin = c.req.query('origin') ?? '';
    const manifest = c.req.query('manifest') ?? '';
    if (!UUID.test(origin) || !SHA256.test(manifest)) throw new AppError('bad_request', 'a version upload needs ?origin=<source UUID>&manifest=<sha256 of its file list>');
    if (await pool.info(t, v)) throw new AppError('conflict', `${t}/${v} is already on this node`);
    // The request as Node's own stream where the adapter gives it, else the standard body: without
    // the web-stream conversion a 232 MB version took 1.42× a local receive instead of 1.61×.
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const web = incoming ? null : c.req.raw.body;
    if (!incoming && !web) throw new AppError('bad_request', 'a version upload needs the btrfs send stream as its body');
    const body: Readable = incoming ?? Readable.fromWeb(web as import('node:stream/web').ReadableStream);
    const t0 = Date.now();
    await pool.receive(t, v, body, { origin, manifest });
    log.info({ template: t, version: v, ms: Date.now() - t0 }, 'version received, verified and sealed');
    return c.json({ template: t, version: v }, 201);
  });
  app.delete('/v1/templates/:t/versions/:v', async (c) => {
    const { t, v } = names(c);
    await pool.remove(t, v);
    log.info({ template: t, version: v }, 'version removed');
    return c.body(null, 204);
  });

  app.notFound((c) => fail(c, 404, 'not_found', `${c.req.method} ${c.req.path} is not part of the pool agent's API`));
  app.onError((e, c) => {
    if (isAppError(e)) {
      const status = e.code === 'invalid_name' || e.code === 'bad_request' ? 400 : e.code === 'conflict' ? 409 : e.code === 'not_found' ? 404 : 500;
      return fail(c, status, e.code, e.message);
    }
    log.warn({ path: c.req.path, err: messageOf(e) }, 'pool agent request failed');
    return fail(c, 500, 'storage_unavailable', messageOf(e));
  });
  return app;
}

export interface AgentServer {
  /** the port it listens on (useful with port 0) */
  port: number;
  close(): Promise<void>;
}

export async function listenAgent(app: Hono, listen: { host: string; port: number }, tls: { cert: string; key: string } | null): Promise<AgentServer> {
  const listener = getRequestListener(app.fetch);
  const server: Server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, listener) : createHttpServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new AppError('conflict', `the pool agent cannot listen on ${listen.host}:${listen.port}: ${messageOf(e)}`)));
    server.listen(listen.port, listen.host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : listen.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
