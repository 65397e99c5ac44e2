// The real GitHub client (Octokit) against a local GitHub that checks every request against GitHub's
// OpenAPI description, with token auth and with GitHub App auth.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGitHubClient, type GitHubClientOptions } from '../../controller/github/client.js';
import { COMMENT_MARKER, createCommentUpdater } from '../../controller/github/comment.js';
import type { Clock } from '../../controller/lib/clock.js';
import { assertOwner } from '../../controller/domain/owner.js';
import { startFakeGitHub, type FakeGitHub } from '../helpers/fake-github.js';
import { createFakeInstancePort, createMemoryLogger } from '../helpers/webhook-fixtures.js';

const TOKEN = 'ghp_testtoken0123456789';
const PR = { owner: 'octo', repo: 'app', number: 12 };
const OWNER = 'gh:octo/app#12';
const PASSWORD = 'pw-Zq8xY3';

/** Waits the client asks for are recorded, not slept: retries run at once and tests stay fast. */
function options(gh: FakeGitHub, over: Partial<GitHubClientOptions> = {}) {
  const waits: number[] = [];
  const opts: GitHubClientOptions = {
    apiUrl: gh.url,
    token: TOKEN,
    appId: null,
    privateKey: null,
    clock: { now: () => Date.now(), sleep: async (ms) => void waits.push(ms) } satisfies Clock,
    ...over,
  };
  return { opts, waits };
}

/** Drives one instance through its life via the fake InstancePort, the way the reconciler would. */
async function lifecycle(instances: ReturnType<typeof createFakeInstancePort>, updater: ReturnType<typeof createCommentUpdater>, gh: FakeGitHub) {
  const bodies: string[] = [];
  const snap = async () => {
    await updater.idle();
    const mine = gh.comments('octo/app', 12).filter((c) => c.body.startsWith(COMMENT_MARKER));
    expect(mine).toHaveLength(1);
    bodies.push(mine[0].body);
  };
  const { instance } = await instances.ensure({ owner: OWNER, template: 'chinook' });
  await snap();
  const connection = { host: 'db.example.com', port: 32771, user: 'myaas_i1', password: PASSWORD, database: 'chinook', url: `postgres://myaas_i1:${PASSWORD}@db.example.com:32771/chinook` };
  instances.setStatus(instance.instance.id, 'ready', { connection });
  await snap();
  await instances.destroyOwner(assertOwner(OWNER));
  await snap();
  return bodies;
}

describe('GitHub client with token auth', () => {
  let gh: FakeGitHub;
  beforeAll(async () => {
    gh = await startFakeGitHub({ tokens: [TOKEN] });
    gh.seedPull('octo/app', { number: 12 });
    gh.seedPull('octo/app', { number: 13, headRepo: 'forker/app' });
    gh.seedPull('octo/app', { number: 14, state: 'closed' });
  });
  afterAll(async () => gh?.close());
  afterEach(() => {
    expect(gh.violations).toEqual([]);
  });

  it('lists open pull requests with their head repository', async () => {
    const client = createGitHubClient(options(gh).opts, createMemoryLogger());
    const pulls = await client.listOpenPulls({ owner: 'octo', repo: 'app' });
    expect(pulls.map((p) => [p.number, p.headRepo])).toEqual([
      [12, 'octo/app'],
      [13, 'forker/app'],
    ]);
  });

  it('keeps one comment, edited in place from provisioning to ready to destroyed, without the password', async () => {
    const log = createMemoryLogger();
    const client = createGitHubClient(options(gh).opts, log);
    const instances = createFakeInstancePort();
    const updater = createCommentUpdater({ client, log, commentPassword: false, instances });
    instances.onChange(updater.onChange);
    const before = gh.requests.length;
    const bodies = await lifecycle(instances, updater, gh);
    expect(bodies[0]).toContain('⏳ provisioning');
    expect(bodies[1]).toContain('✅ ready');
    expect(bodies[1]).toContain('| port | `32771` |');
    expect(bodies[2]).toContain('🗑️ destroyed');
    expect(bodies.join('\n')).not.toContain(PASSWORD);
    const ops = gh.requests.slice(before).map((r) => `${r.op} ${r.status}`);
    expect(ops).toEqual(['getAuthenticatedUser 200', 'listComments 200', 'createComment 201', 'updateComment 200', 'updateComment 200']);
    expect(log.text()).not.toContain(TOKEN);
  });

  it('shows the password only when configured, and only on a private repository', async () => {
    const log = createMemoryLogger();
    const instances = createFakeInstancePort();
    let visibility: boolean | null = false;
    const updater = createCommentUpdater({ client: createGitHubClient(options(gh).opts, log), log, commentPassword: true, isPrivate: async () => visibility });
    instances.onChange(updater.onChange);
    const publicBodies = await lifecycle(instances, updater, gh);
    expect(publicBodies.join('\n')).not.toContain(PASSWORD);
    visibility = true;
    const bodies = await lifecycle(instances, updater, gh);
    expect(bodies[1]).toContain(`| password | \`${PASSWORD}\` |`);
    expect(bodies[2]).not.toContain(PASSWORD);
    expect(log.text()).not.toContain(PASSWORD);
  });

  it('finds its comment past the first page of a busy pull request', async () => {
    gh.seedPull('octo/busy', { number: 20 });
    for (let i = 0; i < 150; i++) gh.seedComment('octo/busy', 20, `comment ${i}`);
    const mine = gh.seedComment('octo/busy', 20, `${COMMENT_MARKER}\nolder run`, 'myaas-user');
    const client = createGitHubClient(options(gh).opts, createMemoryLogger());
    expect((await client.findComment({ owner: 'octo', repo: 'busy', number: 20 }, COMMENT_MARKER))?.id).toBe(mine.id);
  });

  it('never adopts a comment someone else wrote with the marker: it writes its own and keeps editing that', async () => {
    gh.seedPull('octo/planted', { number: 30 });
    const planted = gh.seedComment('octo/planted', 30, `${COMMENT_MARKER}\nnot the bot`, 'mallory');
    const log = createMemoryLogger();
    const client = createGitHubClient(options(gh).opts, log);
    expect(await client.findComment({ owner: 'octo', repo: 'planted', number: 30 }, COMMENT_MARKER)).toBeNull();
    const updater = createCommentUpdater({ client, log, commentPassword: false });
    const instances = createFakeInstancePort();
    instances.onChange((v) => void updater.onChange(v));
    await instances.ensure({ owner: 'gh:octo/planted#30', template: 'chinook' });
    await updater.idle();
    const all = gh.comments('octo/planted', 30);
    expect(all.find((c) => c.id === planted.id)?.body).toBe(`${COMMENT_MARKER}\nnot the bot`);
    expect(all.filter((c) => c.user === 'myaas-user' && c.body.startsWith(COMMENT_MARKER))).toHaveLength(1);
  });

  it('retries a 502 and succeeds', async () => {
    const { opts, waits } = options(gh, { retryBaseMs: 5 });
    const log = createMemoryLogger();
    const client = createGitHubClient(opts, log);
    gh.fail({ status: 502, times: 1, match: (op) => op === 'createComment', message: 'Bad Gateway' });
    const before = gh.requests.length;
    const c = await client.createComment(PR, 'hello');
    expect(c.body).toBe('hello');
    expect(gh.requests.slice(before).map((r) => r.status)).toEqual([502, 201]);
    expect(waits).toEqual([5]);
    expect(log.lines.some((l) => l.level === 'warn' && /retrying/.test(String(l.msg)))).toBe(true);
  });

  it('honours retry-after from the secondary rate limit, and does not retry a plain 403', async () => {
    const { opts, waits } = options(gh, { retryBaseMs: 5 });
    const client = createGitHubClient(opts, createMemoryLogger());
    gh.fail({ status: 403, times: 1, headers: { 'retry-after': '2' }, message: 'You have exceeded a secondary rate limit.' });
    await client.listOpenPulls({ owner: 'octo', repo: 'app' });
    expect(waits).toEqual([2000]);
    gh.fail({ status: 403, times: 1, message: 'Resource not accessible by integration' });
    await expect(client.listOpenPulls({ owner: 'octo', repo: 'app' })).rejects.toThrow(/not accessible/);
    expect(waits).toEqual([2000]);
  });

  it('an API that keeps failing is logged, and the comment updater does not throw', async () => {
    const { opts, waits } = options(gh, { retries: 2, retryBaseMs: 1 });
    const log = createMemoryLogger();
    const client = createGitHubClient(opts, log);
    gh.fail({ status: 503, times: Infinity, match: (op) => op === 'listComments' || op === 'createComment' });
    const updater = createCommentUpdater({ client, log, commentPassword: false });
    await expect(updater.onChange({ ...(await createFakeInstancePort().ensure({ owner: 'gh:octo/app#13', template: 'chinook' })).instance })).resolves.toBeUndefined();
    expect(waits).toEqual([1, 2]);
    expect(log.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toContain('could not update the pull request comment; the instance is unaffected, the comment catches up later');
    updater.close();
    expect(gh.comments('octo/app', 13)).toEqual([]);
    await expect(client.listOpenPulls({ owner: 'octo', repo: 'app' })).resolves.toHaveLength(2);
  });

  it('turns a wrong token into a logged error, not a retry loop', async () => {
    const { opts, waits } = options(gh, { token: 'ghp_wrong' });
    const client = createGitHubClient(opts, createMemoryLogger());
    await expect(client.listOpenPulls({ owner: 'octo', repo: 'app' })).rejects.toThrow(/failed/);
    expect(waits).toEqual([]);
    // the fake flagged it: that is what it is for; clear it so afterEach checks the rest
    expect(gh.violations.splice(0)).toEqual([expect.stringMatching(/unknown token/)]);
  });
});

describe('the fake GitHub itself', () => {
  let gh: FakeGitHub;
  beforeAll(async () => {
    gh = await startFakeGitHub({ tokens: [TOKEN] });
    gh.seedPull('octo/app', { number: 12 });
  });
  afterAll(async () => gh?.close());

  it('refuses and records what GitHub would refuse, so zero violations means something', async () => {
    const call = (method: string, path: string, body?: unknown, auth = `token ${TOKEN}`) =>
      fetch(`${gh.url}${path}`, {
        method,
        headers: { authorization: auth, 'content-type': 'application/json', 'user-agent': 'test' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }).then((r) => r.status);
    expect(await call('POST', '/repos/octo/app/issues/12/comments', { text: 'no body field' })).toBe(422);
    expect(await call('POST', '/repos/octo/app/issues/12/comments', { body: 42 })).toBe(422);
    expect(await call('PATCH', '/repos/octo/app/issues/comments/abc', { body: 'x' })).toBe(422);
    expect(await call('GET', '/repos/octo/app/pulls?state=opened')).toBe(422);
    expect(await call('GET', '/repos/octo/app/pulls?colour=blue')).toBe(422);
    expect(await call('DELETE', '/repos/octo/app/issues/comments/1')).toBe(404);
    expect(await call('GET', '/repos/octo/app/pulls', undefined, 'token nope')).toBe(401);
    expect(gh.violations).toHaveLength(7);
    expect(await call('POST', '/repos/octo/app/issues/12/comments', { body: 'fine' })).toBe(201);
    expect(gh.violations).toHaveLength(7);
  });
});

describe('GitHub client with GitHub App auth', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  // GitHub hands out PKCS#1 PEM keys; environment variables often carry them with escaped newlines.
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  let gh: FakeGitHub;
  beforeAll(async () => {
    gh = await startFakeGitHub({ app: { id: '4242', publicKey, installations: { 'octo/app': 77, 'octo/other': 78 } } });
    gh.seedPull('octo/app', { number: 12 });
    gh.seedPull('octo/other', { number: 5 });
  });
  afterAll(async () => gh?.close());
  afterEach(() => {
    expect(gh.violations).toEqual([]);
  });

  it('looks up the installation, gets its token once, and keeps one comment through the lifecycle', async () => {
    const log = createMemoryLogger();
    const client = createGitHubClient(options(gh, { token: null, appId: '4242', privateKey: pem.replace(/\n/g, '\\n') }).opts, log);
    const instances = createFakeInstancePort();
    const updater = createCommentUpdater({ client, log, commentPassword: false });
    instances.onChange(updater.onChange);
    const bodies = await lifecycle(instances, updater, gh);
    expect(bodies[2]).toContain('🗑️ destroyed');
    expect(gh.comments('octo/app', 12).every((c) => c.user === 'myaas-app[bot]')).toBe(true);
    const ops = gh.requests.map((r) => r.op);
    expect(ops.filter((o) => o === 'getRepoInstallation')).toHaveLength(1);
    expect(ops.filter((o) => o === 'createInstallationToken')).toHaveLength(1);
    expect(log.text()).not.toContain('PRIVATE KEY');
    expect(log.text()).not.toMatch(/ghs_[0-9a-f]{10}/);
  });

  it('uses each repository’s own installation', async () => {
    const client = createGitHubClient(options(gh, { token: null, appId: '4242', privateKey: pem }).opts, createMemoryLogger());
    expect((await client.listOpenPulls({ owner: 'octo', repo: 'other' })).map((p) => p.number)).toEqual([5]);
    expect((await client.listOpenPulls({ owner: 'octo', repo: 'app' })).map((p) => p.number)).toEqual([12]);
  });

  it('says so when the App is not installed on a repository', async () => {
    const { opts, waits } = options(gh, { token: null, appId: '4242', privateKey: pem });
    const client = createGitHubClient(opts, createMemoryLogger());
    await expect(client.listOpenPulls({ owner: 'octo', repo: 'nope' })).rejects.toThrow(/not installed on octo\/nope/);
    expect(waits).toEqual([]);
  });
});
