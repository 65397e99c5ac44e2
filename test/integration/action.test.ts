// Runs the committed Action bundle the way a runner does (node dist/action/index.js, INPUT_*, file
// commands, GitHub's event payloads, an OIDC token endpoint) against a stand-in controller that
// verifies the OIDC token with controller/github/oidc.ts and answers in the API contract's shapes.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppError, isAppError } from '../../controller/domain/errors.js';
import { canAccess, createOidcVerifier, ownerForIdentity } from '../../controller/github/oidc.js';
import type { CreateInstanceResponse, InstanceDto, OwnerSpec } from '../../controller/contract.js';
import { formatOwner, type OwnerKey } from '../../controller/domain/owner.js';
import { ownerFromRequest } from '../../controller/http/present.js';
import { runActionStep } from '../helpers/action-runner.js';
import { pullRequestClaims, pushClaims, startOidcIssuer, type TestOidcIssuer } from '../helpers/oidc-issuer.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ADMIN = `admin-${randomUUID()}`;
// GitHub's own example payloads: Codertocat/Hello-World, pull request #2.
const examples: { name: string; examples: Record<string, unknown>[] }[] = JSON.parse(
  await readFile(createRequire(import.meta.url).resolve('@octokit/webhooks-examples'), 'utf8'),
);
const prEvent = examples.find((e) => e.name === 'pull_request')!.examples.find((e) => e.action === 'opened')!;
const pushEvent = examples.find((e) => e.name === 'push')!.examples[0];
const REPO = 'Codertocat/Hello-World';

interface Call { method: string; path: string; owner: string }

/** A controller that keeps instances in a map and knows templates chinook (ready), slow (never ready). */
async function startStandIn(iss: TestOidcIssuer) {
  const verifier = createOidcVerifier({ issuer: iss.issuer, audience: 'myaas' });
  const repos = { 'codertocat/hello-world': ['chinook', 'slow', 'missing'] };
  const instances = new Map<string, InstanceDto>();
  const calls: Call[] = [];
  let n = 0;

  const ownerOf = async (c: Context, template?: string, asked?: OwnerSpec | string): Promise<OwnerKey> => {
    const token = (c.req.header('authorization') ?? '').replace(/^Bearer /, '');
    if (token === ADMIN) return ownerFromRequest(asked, 'admin');
    return ownerForIdentity(await verifier.verify(token), repos, template);
  };
  const find = (owner: OwnerKey, id: string) => {
    const inst = instances.get(id);
    if (!inst || inst.status === 'destroyed' || !canAccess(owner, inst.owner)) throw new AppError('not_found', `no instance ${id}`);
    return inst;
  };

  const app = new Hono();
  app.onError((e, c) =>
    isAppError(e)
      ? c.json({ error: { code: e.code, message: e.message } }, e.status as ContentfulStatusCode)
      : c.json({ error: { code: 'internal', message: e.message } }, 500),
  );
  app.post('/api/v1/instances', async (c) => {
    const body = await c.req.json<{ template: string; owner?: OwnerSpec | string }>();
    const key = await ownerOf(c, body.template, body.owner);
    const owner = formatOwner(key);
    calls.push({ method: 'POST', path: c.req.path, owner });
    if (body.template === 'missing') throw new AppError('not_found', `template ${body.template} does not exist`);
    let inst = [...instances.values()].find((i) => i.owner === owner && i.template === body.template && i.status !== 'destroyed');
    const created = !inst;
    if (!inst) {
      const id = `i${++n}`;
      const port = 15432 + n;
      const password = `S3cr/t+${randomUUID().slice(0, 8)}@x`;
      const ready = body.template !== 'slow';
      inst = {
        id, name: `inst-${n}`, owner, ownerKind: key.kind, template: body.template, templateVersion: ready ? 'v7' : null,
        status: ready ? 'ready' : 'provisioning', expiresAt: null, createdAt: new Date().toISOString(), readyAt: null,
        connection: { host: '127.0.0.1', port, user: 'app', password, database: 'chinook',
          url: `postgres://app:${encodeURIComponent(password)}@127.0.0.1:${port}/chinook` },
      };
      instances.set(id, inst);
    }
    // Like the real controller, hold the request while the instance is not ready (up to ?wait).
    if (inst.status !== 'ready') await new Promise((r) => setTimeout(r, Math.min(Number(c.req.query('wait') ?? 0), 2) * 1000));
    const res: CreateInstanceResponse = { ...inst, created };
    return c.json(res, created ? 201 : 200);
  });
  app.post('/api/v1/instances/:id/reset', async (c) => {
    const owner = await ownerOf(c);
    calls.push({ method: 'RESET', path: c.req.path, owner: formatOwner(owner) });
    return c.json(find(owner, c.req.param('id')));
  });
  app.post('/api/v1/instances/:id/schema-diff', async (c) => {
    const owner = await ownerOf(c);
    calls.push({ method: 'DIFF', path: c.req.path, owner: formatOwner(owner) });
    const inst = find(owner, c.req.param('id'));
    return c.json({
      instance: inst.id, summary: '1 column added', markdown: '**Schema changes:** 1 column added\n\n- ➕ `track.rating` `integer`', warnings: 0,
      at: new Date().toISOString(), diff: {},
    });
  });
  app.delete('/api/v1/instances/:id', async (c) => {
    const owner = await ownerOf(c);
    calls.push({ method: 'DELETE', path: c.req.path, owner: formatOwner(owner) });
    find(owner, c.req.param('id')).status = 'destroyed';
    return c.body(null, 204);
  });

  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((r) => server.once('listening', () => r()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`, instances, calls,
    close: () => new Promise<void>((r) => { (server as import('node:http').Server).closeAllConnections(); server.close(() => r()); }),
  };
}

interface Step { code: number; stdout: string; stderr: string; env: Record<string, string>; outputs: Record<string, string>; state: Record<string, string>; summary: string }

describe('the bundled Action, run as the runner runs it', () => {
  let iss: TestOidcIssuer;
  let ctl: Awaited<ReturnType<typeof startStandIn>>;
  let dir: string;

  beforeAll(async () => {
    iss = await startOidcIssuer();
    ctl = await startStandIn(iss);
  });
  afterAll(async () => {
    await ctl?.close();
    await iss?.close();
  });
  beforeEach(async (t) => {
    dir = await mkdtemp(join(tmpdir(), 'myaas-action-'));
    t.onTestFinished(() => rm(dir, { recursive: true, force: true }));
  });

  async function step(
    script: 'index' | 'post',
    opts: { event: 'pull_request' | 'push'; inputs?: Record<string, string>; oidc?: boolean; state?: Record<string, string> },
  ): Promise<Step> {
    // The runner passes every declared input, defaults filled in, as INPUT_<NAME> (dashes kept).
    const inputs = { 'controller-url': ctl.url, template: 'chinook', token: '', timeout: '120', reset: 'false', 'env-name': 'DB_URL', audience: 'myaas', ...opts.inputs };
    return runActionStep({
      script, dir, eventName: opts.event, event: opts.event === 'push' ? pushEvent : prEvent, repository: REPO, inputs,
      env: opts.oidc === false ? {} : iss.runnerEnv(), state: opts.state,
    });
  }

  /** Every secret gets an ::add-mask:: line, and no other stdout line shows it (before or after). */
  function expectMaskedFirst(stdout: string, secrets: string[]) {
    const lines = stdout.split('\n');
    for (const s of secrets) {
      // workflow commands escape % (and CR, LF) in their data; the runner unescapes them
      const mask = lines.indexOf(`::add-mask::${s.replace(/%/g, '%25')}`);
      expect(mask, `no ::add-mask:: for a secret`).toBeGreaterThanOrEqual(0);
      const leaks = lines.filter((l) => l.includes(s) && !l.startsWith('::add-mask::'));
      expect(leaks, 'a line shows a secret').toEqual([]);
    }
  }

  it('in a pull request: exports DB_URL, sets every output, masks secrets first, and the post step keeps the instance', async () => {
    iss.runnerClaims = pullRequestClaims(REPO, 2);
    const main = await step('index', { event: 'pull_request' });
    expect(main.stderr).toBe('');
    expect(main.code, main.stdout).toBe(0);
    const inst = [...ctl.instances.values()].find((i) => i.owner === 'gh:codertocat/hello-world#2')!;
    const conn = inst.connection!;
    expect(main.env).toEqual({ DB_URL: conn.url });
    expect(main.outputs).toEqual({
      url: conn.url, host: '127.0.0.1', port: String(conn.port), user: 'app', password: conn.password, database: 'chinook',
      'instance-id': inst.id, created: 'true', 'template-version': 'v7',
    });
    expectMaskedFirst(main.stdout, [conn.password, encodeURIComponent(conn.password), conn.url]);
    expect(main.stderr + main.stdout.replace(/^::add-mask::.*$/gm, '')).not.toContain(conn.password);
    expect(main.stdout).toMatch(/myaas: created instance inst-\d+ .*DB_URL exported .*pull request #2/);
    expect(iss.tokenRequests.at(-1)).toEqual({ audience: 'myaas', authorized: true });
    // A pull request's instance is kept; its schema is compared with the template's after the job.
    expect(main.state).toEqual({ 'diff-instance-id': inst.id });

    const post = await step('post', { event: 'pull_request', state: main.state });
    expect(post.code).toBe(0);
    expect(ctl.calls.filter((c) => c.method === 'DELETE')).toEqual([]);
    expect(ctl.calls.filter((c) => c.method === 'DIFF').map((c) => c.path)).toEqual([`/api/v1/instances/${inst.id}/schema-diff`]);
    expect(post.stdout).toContain('myaas: schema against the template: 1 column added');
    expect(post.summary).toContain('### Database schema against the template');
    expect(post.summary).toContain('➕ `track.rating`');
    expect(inst.status).toBe('ready');

    // the same pull request again, with reset: the existing instance, reset
    const again = await step('index', { event: 'pull_request', inputs: { reset: 'true' } });
    expect(again.code, again.stdout).toBe(0);
    expect(again.outputs['instance-id']).toBe(inst.id);
    expect(again.outputs.created).toBe('false');
    expect(ctl.calls.at(-1)).toEqual({ method: 'RESET', path: `/api/v1/instances/${inst.id}/reset`, owner: inst.owner });
  });

  it('on a push: the instance belongs to the run, a custom env-name is exported, and the post step destroys it', async () => {
    iss.runnerClaims = pushClaims(REPO, '777', '2');
    const main = await step('index', { event: 'push', inputs: { 'env-name': 'MY_DB' } });
    expect(main.code, main.stdout).toBe(0);
    const id = main.outputs['instance-id'];
    const inst = ctl.instances.get(id)!;
    expect(inst.owner).toBe('gh:codertocat/hello-world@run-777-2');
    expect(main.env).toEqual({ MY_DB: inst.connection!.url });
    expect(main.state).toEqual({ 'instance-id': id });
    expectMaskedFirst(main.stdout, [inst.connection!.password, inst.connection!.url]);

    const post = await step('post', { event: 'push', state: main.state });
    expect(post.code, post.stdout).toBe(0);
    expect(post.stdout).toContain(`destroyed instance ${id}`);
    expect(ctl.calls.at(-1)).toEqual({ method: 'DELETE', path: `/api/v1/instances/${id}`, owner: inst.owner });
    expect(inst.status).toBe('destroyed');

    // already gone: a quiet note, not a failed job
    const twice = await step('post', { event: 'push', state: main.state });
    expect(twice.code).toBe(0);
    expect(twice.stdout).toContain(`instance ${id} was already gone`);
  });

  it('with a token input: no OIDC request, the owner key is sent for the run', async () => {
    const before = iss.tokenRequests.length;
    const main = await step('index', { event: 'push', oidc: false, inputs: { token: ADMIN } });
    expect(main.code, main.stdout).toBe(0);
    expect(iss.tokenRequests.length).toBe(before);
    expect(ctl.instances.get(main.outputs['instance-id'])!.owner).toBe('gh:codertocat/hello-world@run-4242-1');
    expect(main.stdout).toContain(`::add-mask::${ADMIN}`);
    expect(main.stdout.replace(/^::add-mask::.*$/gm, '')).not.toContain(ADMIN);
  });

  it('fails with a clear message when the controller is unreachable', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    iss.runnerClaims = pushClaims(REPO);
    const r = await step('index', { event: 'push', inputs: { 'controller-url': `http://127.0.0.1:${port}` } });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain(`::error::cannot reach the myaas controller at http://127.0.0.1:${port} (ECONNREFUSED)`);
    expect(r.stdout).toContain('The runner running this job must be able to reach the controller');
  });

  it('retries a dropped connection and then succeeds', async () => {
    // A front that cuts the first connection (as a restarting controller or a flaky hop does), then relays.
    let drops = 1;
    const front = createHttpServer(async (req, res) => {
      if (drops-- > 0) return req.socket.destroy();
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const r = await fetch(ctl.url + req.url, {
        method: req.method,
        headers: { authorization: req.headers.authorization ?? '', 'content-type': 'application/json' },
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end(await r.text());
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    try {
      iss.runnerClaims = pushClaims(REPO, '31337');
      const url = `http://127.0.0.1:${(front.address() as { port: number }).port}`;
      const r = await step('index', { event: 'push', inputs: { 'controller-url': url } });
      expect(r.code, r.stdout).toBe(0);
      expect(drops).toBeLessThan(0);
      expect(ctl.instances.get(r.outputs['instance-id'])!.owner).toBe('gh:codertocat/hello-world@run-31337-1');
    } finally {
      front.closeAllConnections();
      await new Promise((r) => front.close(r));
    }
  });

  it('refuses invalid inputs before calling anyone', async () => {
    const calls = ctl.calls.length;
    const r = await step('index', { event: 'push', inputs: { timeout: 'soon' } });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain('::error::input timeout must be a whole number of seconds between 1 and 3600, got "soon"');
    expect(ctl.calls.length).toBe(calls);
  });

  it('passes the controller’s 401 and 403 messages through', async () => {
    iss.runnerClaims = pushClaims('evil/app');
    const forbidden = await step('index', { event: 'push' });
    expect(forbidden.code).not.toBe(0);
    expect(forbidden.stdout).toContain('(HTTP 403 forbidden): repository evil/app is not configured on this controller (MYAAS_GITHUB_REPOS)');

    iss.runnerClaims = pushClaims(REPO);
    const wrongAud = await step('index', { event: 'push', inputs: { audience: 'elsewhere' } });
    expect(wrongAud.code).not.toBe(0);
    expect(wrongAud.stdout).toContain('(HTTP 401 unauthorized): OIDC token audience is "elsewhere", but this controller expects "myaas"');
  });

  it('explains the missing id-token permission', async () => {
    const r = await step('index', { event: 'push', oidc: false });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain('::error::cannot get a GitHub OIDC token: this job lacks the id-token permission');
    expect(r.stdout).toContain('`permissions: id-token: write`');
  });

  it('names an unknown template', async () => {
    iss.runnerClaims = pushClaims(REPO);
    const r = await step('index', { event: 'push', inputs: { template: 'missing' } });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toContain('::error::template missing is unknown to the controller');
  });

  it('times out naming the instance and its status, and the post step still cleans up', async () => {
    iss.runnerClaims = pushClaims(REPO, '901');
    const r = await step('index', { event: 'push', inputs: { template: 'slow', timeout: '2' } });
    expect(r.code).not.toBe(0);
    const id = r.state['instance-id'];
    expect(r.stdout).toMatch(new RegExp(`::error::timed out after 2 s waiting for instance ${id} \\(inst-\\d+\\) of template slow: its status is still provisioning`));
    const post = await step('post', { event: 'push', state: r.state });
    expect(post.code).toBe(0);
    expect(ctl.instances.get(id)!.status).toBe('destroyed');
  });

  it('dist/ is built from the current source (npm run check:dist)', async () => {
    const r = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(process.execPath, [join(root, 'scripts', 'build-action.mjs'), '--check'], { cwd: root }, (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr }),
      ),
    );
    expect(r.out).toContain('dist/action is up to date');
    expect(r.code).toBe(0);
  });

  it('action.yml declares the inputs and outputs the code uses, and runs the bundle on node24', async () => {
    const yml = await readFile(join(root, 'action.yml'), 'utf8');
    for (const name of ['controller-url', 'template', 'token', 'timeout', 'reset', 'env-name', 'audience', 'url', 'host', 'port', 'user', 'password', 'database', 'instance-id', 'created', 'template-version']) {
      expect(yml).toMatch(new RegExp(`^  ${name}:$`, 'm'));
    }
    expect(yml).toMatch(/using: node24\n\s+main: dist\/action\/index\.js\n\s+post: dist\/action\/post\.js/);
  });
});
