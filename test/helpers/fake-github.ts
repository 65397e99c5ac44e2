// A local GitHub REST API for the routes myaas uses. Every request is checked against GitHub's own
// OpenAPI description (@octokit/openapi) and its Authorization header; anything off is answered with
// a 4xx and recorded in `violations`, so a malformed call fails the test that made it. GitHub Apps
// (JWTs, installations, the manifest flow's web page and conversion) live in fake-github-apps.ts.
import { randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { createAppRegistry, type FakeApp } from './fake-github-apps.js';
import { compileOps, type CompiledOp } from './openapi-ops.js';

const require = createRequire(import.meta.url);

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
type OpName =
  | 'listPulls' | 'listComments' | 'createComment' | 'updateComment' | 'getRepoInstallation' | 'createInstallationToken'
  | 'createCommentReaction' | 'removeLabel' | 'getCollaboratorPermission' | 'createFromManifest' | 'getAuthenticatedUser' | 'getAuthenticatedApp';

const OPS: [OpName, Method, string, number][] = [
  ['listPulls', 'GET', '/repos/{owner}/{repo}/pulls', 200],
  ['listComments', 'GET', '/repos/{owner}/{repo}/issues/{issue_number}/comments', 200],
  ['createComment', 'POST', '/repos/{owner}/{repo}/issues/{issue_number}/comments', 201],
  ['updateComment', 'PATCH', '/repos/{owner}/{repo}/issues/comments/{comment_id}', 200],
  ['getRepoInstallation', 'GET', '/repos/{owner}/{repo}/installation', 200],
  ['createInstallationToken', 'POST', '/app/installations/{installation_id}/access_tokens', 201],
  ['createCommentReaction', 'POST', '/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions', 201],
  ['removeLabel', 'DELETE', '/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}', 200],
  ['getCollaboratorPermission', 'GET', '/repos/{owner}/{repo}/collaborators/{username}/permission', 200],
  ['createFromManifest', 'POST', '/app-manifests/{code}/conversions', 201],
  ['getAuthenticatedUser', 'GET', '/user', 200],
  ['getAuthenticatedApp', 'GET', '/app', 200],
];

/** Who made a request: an app (by JWT) or an installation (by its token); empty for a plain token. */
interface Auth { app?: string; installation?: number }
type Op = CompiledOp<OpName, Method>;

export interface FakeGitHubOptions {
  /** tokens accepted as `token …` / `Bearer …` (personal or fine-grained tokens) */
  tokens?: string[];
  /** GitHub App: JWTs signed by the key whose public half is given; installations by `owner/repo` */
  app?: { id: string; publicKey: KeyObject; installations: Record<string, number> };
  /** who is signed in on the web pages (the manifest flow); default octocat */
  webUser?: string;
}

type Pull = { number: number; headRepo: string; state: string; updatedAt: string; labels: string[] };
export type Permission = 'admin' | 'maintain' | 'write' | 'triage' | 'read' | 'none';

export interface StoredComment { id: number; body: string; user: string; repo: string; number: number; createdAt: string; updatedAt: string }
export interface FakeRequest { method: string; path: string; status: number; op: OpName | 'webNewApp' | null }
export interface Failure { status: number; times: number; match?: (op: OpName) => boolean; headers?: Record<string, string>; message?: string }

export interface FakeGitHub {
  /** base URL to give the client as its API URL */
  url: string;
  violations: string[];
  requests: FakeRequest[];
  /** open (and closed) pull requests by `owner/repo` */
  seedPull(repo: string, pr: { number: number; headRepo?: string; state?: 'open' | 'closed'; updatedAt?: string; labels?: string[] }): void;
  seedComment(repo: string, number: number, body: string, user?: string): StoredComment;
  comments(repo?: string, number?: number): StoredComment[];
  /** labels on a pull request */
  labels(repo: string, number: number): string[];
  /** reactions on an issue comment, in the order they were added */
  reactions(commentId: number): { content: string; user: string }[];
  /** `user`'s permission on `repo` (unseeded users read, as on a public repository) */
  seedPermission(repo: string, user: string, permission: Permission): void;
  /** apps registered through the manifest flow, with the credentials the conversion handed out */
  manifestApps(): FakeApp[];
  /** installs an app on repositories (what the person does after registering it); the installation id */
  install(appId: string, repos: string[]): number;
  /** the next `times` requests (matching `match`) answer `status` */
  fail(f: Failure): void;
  close(): Promise<void>;
}

export async function startFakeGitHub(opts: FakeGitHubOptions): Promise<FakeGitHub> {
  const spec = require('@octokit/openapi/generated/api.github.com.json');
  const ops = compileOps(spec, OPS);
  const ex = (name: string): Json => structuredClone(spec.components.examples[name].value);
  const violations: string[] = [];
  const requests: FakeRequest[] = [];
  const pulls = new Map<string, Pull[]>();
  const comments: StoredComment[] = [];
  const reactions = new Map<number, { id: number; content: string; user: string; createdAt: string }[]>();
  const permissions = new Map<string, Permission>();
  const failures: Failure[] = [];
  const installationTokens = new Map<string, number>();
  let nextCommentId = 1000;
  let url = '';
  const apps = createAppRegistry({ spec, url: () => url, webUser: opts.webUser ?? 'octocat', violations });
  if (opts.app) apps.addApp(opts.app.id, opts.app.publicKey, opts.app.installations);
  // Comments and reactions made with an installation token are the app's bot's; the test's own app keeps its old name.
  const botOf = (auth: Auth) => {
    if (auth.installation === undefined) return 'myaas-user';
    const app = apps.apps.get(apps.installations.get(auth.installation)?.appId ?? '');
    return !app || app.id === opts.app?.id ? 'myaas-app[bot]' : `${app.slug}[bot]`;
  };

  const commentJson = (c: StoredComment) => {
    const o = ex('issue-comment');
    Object.assign(o, {
      id: c.id,
      node_id: `IC_${c.id}`,
      body: c.body,
      url: `${url}/repos/${c.repo}/issues/comments/${c.id}`,
      html_url: `https://github.com/${c.repo}/pull/${c.number}#issuecomment-${c.id}`,
      issue_url: `${url}/repos/${c.repo}/issues/${c.number}`,
      created_at: c.createdAt,
      updated_at: c.updatedAt,
    });
    Object.assign(o.user, { login: c.user, type: c.user.endsWith('[bot]') ? 'Bot' : 'User' });
    return o;
  };
  const pullJson = (repo: string, p: Pull) => {
    const o = ex('pull-request-simple-items')[0];
    // GitHub's own example lacks fields its schema requires in requested_teams; an empty list is valid.
    Object.assign(o, { number: p.number, state: p.state, updated_at: p.updatedAt, requested_teams: [] });
    Object.assign(o.base.repo, { full_name: repo, name: repo.split('/')[1] });
    Object.assign(o.head.repo, { full_name: p.headRepo, name: p.headRepo.split('/')[1], fork: p.headRepo !== repo });
    return o;
  };

  /** Who may call `op`: the caller, or a violation message. */
  async function checkAuth(op: Op, auth: string, path: Record<string, string>): Promise<Auth | string> {
    // GitHub answers the manifest conversion without authentication: the one-hour code is the credential.
    if (op.name === 'createFromManifest') return {};
    const m = /^(token|bearer) (\S+)$/i.exec(auth);
    if (!m) return 'missing or malformed Authorization header';
    const cred = m[2];
    if (op.name === 'getRepoInstallation' || op.name === 'createInstallationToken' || op.name === 'getAuthenticatedApp') {
      const r = await apps.verifyJwt(cred);
      return 'error' in r ? r.error : { app: r.appId };
    }
    if (opts.tokens?.includes(cred)) return {};
    // GitHub: "Resource not accessible by integration" for an installation asking who it is.
    if (op.name === 'getAuthenticatedUser') return 'GET /user needs a user token';
    const inst = installationTokens.get(cred);
    if (inst === undefined) return 'unknown token';
    const repo = `${path.owner}/${path.repo}`.toLowerCase();
    return apps.installations.get(inst)?.repos.has(repo) ? { installation: inst } : `installation ${inst} token used on ${repo}`;
  }

  function serve(op: Op, path: Record<string, string>, query: URLSearchParams, body: Json, auth: Auth): [number, Json, Record<string, string>?] {
    const repo = `${path.owner}/${path.repo}`.toLowerCase();
    const now = new Date().toISOString();
    const page = (items: Json[]): [number, Json, Record<string, string>] => {
      const per = Number(query.get('per_page') ?? 30);
      const n = Number(query.get('page') ?? 1);
      const headers: Record<string, string> = {};
      if (n * per < items.length) {
        const next = new URLSearchParams(query);
        next.set('page', String(n + 1));
        headers.link = `<${url}${op.template.replace(/\{(\w+)\}/g, (_, k) => path[k])}?${next}>; rel="next"`;
      }
      return [200, items.slice((n - 1) * per, n * per), headers];
    };
    const issue = () => (pulls.get(repo) ?? []).find((p) => p.number === Number(path.issue_number));
    switch (op.name) {
      case 'listPulls': {
        const state = query.get('state') ?? 'open';
        return page((pulls.get(repo) ?? []).filter((p) => state === 'all' || p.state === state).map((p) => pullJson(repo, p)));
      }
      case 'listComments':
        if (!issue()) return [404, { message: 'Not Found' }];
        return page(comments.filter((c) => c.repo === repo && c.number === Number(path.issue_number)).map(commentJson));
      case 'createComment': {
        if (!issue()) return [404, { message: 'Not Found' }];
        const c = { id: nextCommentId++, body: body.body, user: botOf(auth), repo, number: Number(path.issue_number), createdAt: now, updatedAt: now };
        comments.push(c);
        return [201, commentJson(c)];
      }
      case 'updateComment': {
        const c = comments.find((x) => x.repo === repo && x.id === Number(path.comment_id));
        if (!c) return [404, { message: 'Not Found' }];
        Object.assign(c, { body: body.body, updatedAt: now });
        return [200, commentJson(c)];
      }
      case 'getRepoInstallation': {
        const inst = [...apps.installations.values()].find((i) => i.appId === auth.app && i.repos.has(repo));
        if (!inst) return [404, { message: 'Not Found' }];
        const o = ex('installation');
        Object.assign(o, { id: inst.id, app_id: Number(inst.appId), target_id: inst.id, app_slug: apps.apps.get(inst.appId)?.slug });
        o.account.login = path.owner;
        return [200, o];
      }
      case 'createInstallationToken': {
        const id = Number(path.installation_id);
        if (apps.installations.get(id)?.appId !== auth.app) return [404, { message: 'Not Found' }];
        const token = `ghs_${randomBytes(18).toString('hex')}`;
        installationTokens.set(token, id);
        const o = ex('installation-token');
        delete o.repositories;
        Object.assign(o, { token, expires_at: new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z') });
        return [201, o];
      }
      default:
        return serveMore(op, path, body, auth, repo, now);
    }
  }

  /** The routes ChatOps and the manifest flow use. */
  function serveMore(op: Op, path: Record<string, string>, body: Json, auth: Auth, repo: string, now: string): [number, Json] {
    switch (op.name) {
      case 'createCommentReaction': {
        const c = comments.find((x) => x.repo === repo && x.id === Number(path.comment_id));
        if (!c) return [404, { message: 'Not Found' }];
        const list = reactions.get(c.id) ?? [];
        const user = botOf(auth);
        const existing = list.find((r) => r.user === user && r.content === body.content);
        const r = existing ?? { id: nextCommentId++, content: body.content, user, createdAt: now };
        if (!existing) reactions.set(c.id, [...list, r]);
        const o = ex('reaction');
        Object.assign(o, { id: r.id, node_id: `REA_${r.id}`, content: r.content, created_at: r.createdAt });
        Object.assign(o.user, { login: user, type: user.endsWith('[bot]') ? 'Bot' : 'User' });
        // GitHub answers 200 with the existing reaction when the same user adds the same one again.
        return [existing ? 200 : 201, o];
      }
      case 'removeLabel': {
        const pr = (pulls.get(repo) ?? []).find((p) => p.number === Number(path.issue_number));
        const at = pr?.labels.findIndex((l) => l.toLowerCase() === path.name.toLowerCase()) ?? -1;
        if (!pr || at < 0) return [404, { message: 'Label does not exist' }];
        pr.labels.splice(at, 1);
        return [200, pr.labels.map((name, i) => Object.assign(ex('label'), { id: i + 1, node_id: `LA_${i + 1}`, name, url: `${url}/repos/${repo}/labels/${encodeURIComponent(name)}` }))];
      }
      case 'getCollaboratorPermission': {
        const permission = permissions.get(`${repo}:${path.username.toLowerCase()}`) ?? 'read';
        const o = ex('repository-collaborator-permission-response-if-user-has-admin-permissions');
        Object.assign(o, { permission: permission === 'maintain' ? 'write' : permission === 'triage' ? 'read' : permission, role_name: permission });
        Object.assign(o.user, { login: path.username, role_name: permission }); // GitHub's own example lacks the required role_name
        return [200, o];
      }
      case 'createFromManifest':
        return apps.convert(path.code, ex('integration-from-manifest'));
      case 'getAuthenticatedUser': {
        const o = ex('private-user');
        Object.assign(o, { login: 'myaas-user', type: 'User' });
        return [200, o];
      }
      case 'getAuthenticatedApp': {
        const app = apps.apps.get(auth.app ?? '');
        if (!app) return [404, { message: 'Not Found' }];
        const o = ex('integration');
        // The test's own app comments as myaas-app[bot] (see botOf); apps from the manifest flow as <slug>[bot].
        Object.assign(o, { id: Number(app.id), slug: app.id === opts.app?.id ? 'myaas-app' : app.slug, name: app.name });
        return [200, o];
      }
      default:
        throw new Error(`no handler for ${op.name}`);
    }
  }

  async function handle(req: IncomingMessage, raw: string): Promise<[number, Json, Record<string, string>?, FakeRequest['op']?]> {
    const u = new URL(req.url ?? '/', 'http://x');
    const where = `${req.method} ${u.pathname}`;
    const bad = (status: number, msg: string, op?: OpName): [number, Json, undefined, OpName?] => {
      violations.push(`${where}: ${msg}`);
      return [status, { message: msg, documentation_url: 'https://docs.github.com/rest' }, undefined, op];
    };
    const page = apps.web(req.method ?? '', u.pathname, u.searchParams, raw, String(req.headers['content-type'] ?? ''));
    if (page) return [page.status, page, page.headers, 'webNewApp'];
    const op = ops.find((o) => o.method === req.method && o.re.test(u.pathname));
    if (!op) return bad(404, 'no such operation in the routes this fake serves');
    if (!req.headers['user-agent']) return bad(403, 'GitHub refuses requests without a User-Agent', op.name);
    const values = (op.re.exec(u.pathname) as RegExpExecArray).slice(1).map(decodeURIComponent);
    const names = [...op.template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    const path = Object.fromEntries(names.map((n, i) => [n, values[i]]));
    for (const key of u.searchParams.keys()) {
      if (!op.params.some((p) => p.in === 'query' && p.name === key)) return bad(422, `unknown query parameter ${key}`, op.name);
    }
    for (const p of op.params.filter((x) => x.in === 'path' || x.in === 'query')) {
      const v = p.in === 'path' ? path[p.name] : u.searchParams.get(p.name);
      if (v === null || v === undefined) {
        if (p.required) return bad(422, `missing ${p.in} parameter ${p.name}`, op.name);
        continue;
      }
      if (!p.check({ v })) return bad(422, `${p.in} parameter ${p.name}=${v}: ${JSON.stringify(p.check.errors)}`, op.name);
    }
    let body: Json;
    if (raw) {
      if (!op.body) return bad(400, 'this operation takes no body', op.name);
      if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) return bad(415, 'body is not application/json', op.name);
      try {
        body = JSON.parse(raw);
      } catch {
        return bad(400, 'body is not JSON', op.name);
      }
      if (!op.body(body)) return bad(422, `body: ${JSON.stringify(op.body.errors)}`, op.name);
    } else if (op.bodyRequired) return bad(422, 'missing request body', op.name);
    const auth = await checkAuth(op, String(req.headers.authorization ?? ''), path);
    if (typeof auth === 'string') return bad(401, auth, op.name);
    const fi = failures.findIndex((f) => f.times > 0 && (!f.match || f.match(op.name)));
    if (fi >= 0) {
      failures[fi].times--;
      return [failures[fi].status, { message: failures[fi].message ?? 'injected failure' }, failures[fi].headers, op.name];
    }
    const [status, json, headers] = serve(op, path, u.searchParams, body, auth);
    if (status === op.ok && !op.response(json)) violations.push(`${where}: fake answered off-schema: ${JSON.stringify(op.response.errors)}`);
    return [status, json, headers, op.name];
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, Buffer.concat(chunks).toString('utf8')).then(
        ([status, json, headers, op]) => {
          requests.push({ method: req.method ?? '', path: req.url ?? '', status, op: op ?? null });
          // A web page (the manifest flow) carries its own body and content type.
          const webPage = op === 'webNewApp';
          res.writeHead(status, webPage ? headers : { 'content-type': 'application/json; charset=utf-8', ...headers });
          res.end(webPage ? json.body : JSON.stringify(json));
        },
        (e) => {
          violations.push(`fake crashed: ${(e as Error).stack}`);
          res.writeHead(500).end();
        },
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    violations,
    requests,
    seedPull(repo, pr) {
      const list = pulls.get(repo.toLowerCase()) ?? [];
      const rest = list.filter((p) => p.number !== pr.number);
      rest.push({ number: pr.number, headRepo: pr.headRepo ?? repo, state: pr.state ?? 'open', updatedAt: pr.updatedAt ?? new Date().toISOString(), labels: [...(pr.labels ?? [])] });
      pulls.set(repo.toLowerCase(), rest);
    },
    seedComment(repo, number, body, user = 'octocat') {
      const now = new Date().toISOString();
      const c = { id: nextCommentId++, body, user, repo: repo.toLowerCase(), number, createdAt: now, updatedAt: now };
      comments.push(c);
      return c;
    },
    comments: (repo, number) =>
      comments.filter((c) => (!repo || c.repo === repo.toLowerCase()) && (number === undefined || c.number === number)),
    labels: (repo, number) => [...((pulls.get(repo.toLowerCase()) ?? []).find((p) => p.number === number)?.labels ?? [])],
    reactions: (commentId) => (reactions.get(commentId) ?? []).map(({ content, user }) => ({ content, user })),
    seedPermission: (repo, user, permission) => void permissions.set(`${repo.toLowerCase()}:${user.toLowerCase()}`, permission),
    manifestApps: () => [...apps.apps.values()].filter((a) => a.manifest),
    install: (appId, repos) => apps.install(appId, repos),
    fail: (f) => void failures.push({ ...f }),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
