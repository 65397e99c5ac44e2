// A node's pool on another machine, reached through its pool agent (`myaas volume-plugin` with
// MYAAS_AGENT_LISTEN; volume/pool-agent.ts serves the other end). Every request carries a fresh
// short-lived token signed with the shared MYAAS_AGENT_TOKEN (HS256 over method, path and a one-time
// id), so a request seen on the wire cannot be sent again or turned into another one; over https://
// the agent's certificate is checked against MYAAS_AGENT_CA (or the system's CAs).
import { randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { PassThrough, type Readable } from 'node:stream';
import { SignJWT } from 'jose';
import { AppError, messageOf } from '../domain/errors.js';
import { AGENT_AUDIENCE, isShipName, type PoolAccess, type SendHandle, type SubvolInfo } from '../domain/pool-access.js';


export interface AgentClientOptions {
  /** the node's name, for messages */
  name: string;
  /** the agent's base URL, e.g. https://node2.example:5002 */
  url: string;
  /** the shared secret (MYAAS_AGENT_TOKEN) */
  token: string;
  /** PEM of the CA that signed the agents' certificates (MYAAS_AGENT_CA); default: the system's */
  ca?: string;
  /** how long a request may wait for an answer (not a transfer's length); default 30 s */
  timeoutMs?: number;
}

function name(kind: string, s: string): string {
  if (!isShipName(s)) throw new AppError('invalid_name', `invalid ${kind} ${JSON.stringify(s)} for shipping`);
  return encodeURIComponent(s);
}

function collect(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => (body += d));
    res.once('end', () => resolve(body));
    res.once('error', reject);
  });
}

export function createPoolAgentClient(opts: AgentClientOptions): PoolAccess {
  const base = new URL(opts.url);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new AppError('bad_request', `pool agent URL ${opts.url} is not http(s)://`);
  const key = new TextEncoder().encode(opts.token);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const who = `node ${opts.name}'s pool agent (${base.origin})`;

  async function bearer(method: string, path: string): Promise<string> {
    return new SignJWT({ htm: method, htu: path })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(AGENT_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('60s')
      .setJti(randomUUID())
      .sign(key);
  }

  /** Starts a request; resolves with the response once its head arrives. */
  async function call(method: string, path: string, body?: Readable): Promise<IncomingMessage> {
    // A body that fails before the request is under way fails it as soon as it is.
    let bodyError: Error | null = null;
    body?.on('error', (e) => (bodyError = e));
    const url = new URL(path, base);
    const ro: RequestOptions & { ca?: string } = {
      method,
      headers: {
        authorization: `Bearer ${await bearer(method, url.pathname + url.search)}`,
        ...(body ? { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } : {}),
      },
      ...(opts.ca ? { ca: opts.ca } : {}),
    };
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, ro, resolve);
      // Only until the answer's head: a long transfer is not a hung agent.
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      const clear = () => clearTimeout(timer);
      req.once('response', clear);
      req.on('error', (e) => (clear(), reject(new AppError('storage_unavailable', `${who}: ${messageOf(e)}`))));
      if (!body) return void req.end();
      if (bodyError) return void req.destroy(bodyError);
      body.on('error', (e) => req.destroy(e));
      body.pipe(req);
    });
  }

  /** Turns an error answer into an AppError saying what the agent said. */
  async function failure(res: IncomingMessage): Promise<AppError> {
    const text = await collect(res).catch(() => '');
    let message = text.slice(0, 500) || `HTTP ${res.statusCode}`;
    // The agent's own refusals keep their meaning here; anything else is the node's pool failing.
    let code: 'storage_unavailable' | 'conflict' | 'invalid_name' = 'storage_unavailable';
    try {
      const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
      if (e?.message) message = e.message;
      if (e?.code === 'conflict' || e?.code === 'invalid_name') code = e.code;
    } catch {
      // not JSON: keep the text
    }
    return new AppError(code, `${who}: ${message}`);
  }

  async function json<T>(method: string, path: string, ok: number[] = [200]): Promise<T | null> {
    const res = await call(method, path);
    if (res.statusCode === 404) return (await collect(res), null);
    if (!ok.includes(res.statusCode ?? 0)) throw await failure(res);
    const text = await collect(res);
    return (text ? JSON.parse(text) : null) as T;
  }

  const versionPath = (t: string, v: string) => `/v1/templates/${name('template', t)}/versions/${name('version', v)}`;

  return {
    name: opts.name,
    async versions(t) {
      return (await json<{ versions: string[] }>('GET', `/v1/templates/${name('template', t)}/versions`))?.versions ?? [];
    },
    info: (t, v) => json<SubvolInfo>('GET', versionPath(t, v)),
    async manifest(t, v) {
      const r = await json<{ manifest: string }>('GET', `${versionPath(t, v)}/manifest`);
      if (!r) throw new AppError('not_found', `${who}: ${t}/${v} is not on that node`);
      return r.manifest;
    },
    send(t, v, parent): SendHandle {
      const stream = new PassThrough();
      const done = (async () => {
        const res = await call('GET', `${versionPath(t, v)}/send${parent ? `?parent=${name('version', parent)}` : ''}`);
        if (res.statusCode !== 200) throw await failure(res);
        // The agent cuts the connection when its btrfs send fails: that arrives as an error here.
        await new Promise<void>((resolve, reject) => {
          res.once('aborted', () => reject(new Error('the agent cut the stream (its btrfs send failed; its log says why)')));
          res.once('error', reject);
          res.once('end', resolve);
          stream.once('close', () => res.destroy());
          res.pipe(stream, { end: false });
        });
        stream.end();
      })();
      done.catch((e: unknown) => stream.destroy(e instanceof Error ? e : new Error(String(e))));
      return { stream, done };
    },
    async receive(t, v, stream, expect) {
      const q = new URLSearchParams({ origin: expect.origin, manifest: expect.manifest });
      const res = await call('PUT', `${versionPath(t, v)}?${q}`, stream);
      if (res.statusCode !== 201) throw await failure(res);
      await collect(res);
    },
    async remove(t, v) {
      await json('DELETE', versionPath(t, v), [204]);
    },
    async space() {
      const r = await json<{ totalBytes: number; freeBytes: number }>('GET', '/v1/space');
      if (!r) throw new AppError('storage_unavailable', `${who}: no answer for its space`);
      return r;
    },
  };
}
