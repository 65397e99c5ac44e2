// ChatOps end to end below the instance layer: GitHub's example payloads, signed with the test
// secret, through the real webhook route and the real GitHub client (GitHub App auth) against the
// local GitHub stand-in, onto a target that records what it was asked.
import { generateKeyPairSync } from 'node:crypto';
import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../controller/domain/errors.js';
import { createChatOps } from '../../controller/github/chatops-handler.js';
import { HELP_TEXT } from '../../controller/github/chatops.js';
import { createGitHubClient } from '../../controller/github/client.js';
import { createWebhookRoutes } from '../../controller/http/webhooks.js';
import { createFakeChatOpsTarget, issueCommentPayload, labeledPayload } from '../helpers/chatops-fixtures.js';
import { startFakeGitHub, type FakeGitHub } from '../helpers/fake-github.js';
import { createFakeInstancePort, createMemoryLogger, webhookRequest, pullRequestHandlerFor } from '../helpers/webhook-fixtures.js';

const SECRET = 'chatops-webhook-secret';
const PATH = '/api/v1/webhooks/github';
const REPO = 'Codertocat/Hello-World';
const OWNER = 'gh:codertocat/hello-world#2';
const APP_ID = '31337';

let gh: FakeGitHub;
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

beforeAll(async () => {
  gh = await startFakeGitHub({ app: { id: APP_ID, publicKey, installations: { [REPO]: 91 } } });
  gh.seedPull(REPO, { number: 2 });
});
afterAll(async () => gh?.close());
afterEach(() => {
  expect(gh.violations).toEqual([]);
});

function setup() {
  const log = createMemoryLogger();
  const target = createFakeChatOpsTarget();
  const client = createGitHubClient(
    { apiUrl: gh.url, token: null, appId: APP_ID, privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(), retryBaseMs: 1, clock: { now: () => Date.now(), sleep: async () => {} } },
    log,
  );
  const chatOps = createChatOps({ target, client, log });
  const instances = createFakeInstancePort();
  const pullRequests = pullRequestHandlerFor({ instances, repos: { 'codertocat/hello-world': ['chinook'] }, allowForks: false, resetOnPush: false, log });
  const seen = new Set<string>();
  const deliveries = { seen: async (id: string) => seen.has(id), record: async (id: string) => void seen.add(id) };
  const app = new Hono();
  app.route(PATH, createWebhookRoutes({ secret: SECRET, deliveries, pullRequests, chatOps, log }));
  const send = (event: string, payload: unknown) => app.request(PATH, webhookRequest(event, payload, { secret: SECRET }));
  /** A comment as a person writes it: stored on GitHub first, then delivered as a webhook. */
  const comment = async (body: string, o: { user?: string; association?: string; userType?: 'User' | 'Bot'; onPullRequest?: boolean; action?: 'created' | 'edited' } = {}) => {
    const c = gh.seedComment(REPO, 2, body, o.user ?? 'alice');
    const res = await send('issue_comment', issueCommentPayload({ commentId: c.id, body, ...o }));
    expect(res.status).toBe(202);
    await chatOps.idle();
    return { id: c.id, reactions: gh.reactions(c.id).map((r) => r.content), replies: () => repliesAfter(c.id) };
  };
  const repliesAfter = (id: number) => gh.comments(REPO, 2).filter((c) => c.id > id && c.user === 'myaas-app[bot]').map((c) => c.body);
  return { log, target, chatOps, send, comment, instances };
}

describe('ChatOps commands from people with write access', () => {
  it('each command works from an owner, a member and a collaborator: 👀 then 🚀', async () => {
    const { target, comment } = setup();
    const cases: [string, string, object][] = [
      ['OWNER', '/myaas reset', { op: 'reset' }],
      ['MEMBER', 'Let me try again.\n/myaas extend 3d', { op: 'extend', seconds: 3 * 86400 }],
      ['COLLABORATOR', '/MYAAS  protect', { op: 'protect', on: true }],
      ['OWNER', '/myaas unprotect', { op: 'protect', on: false }],
      ['MEMBER', '/myaas recreate', { op: 'recreate' }],
    ];
    for (const [association, body, call] of cases) {
      const before = target.calls.length;
      const c = await comment(body, { association });
      expect(target.calls.slice(before), body).toEqual([{ owner: OWNER, ...call }]);
      expect(c.reactions, body).toEqual(['eyes', 'rocket']);
      expect(c.replies(), body).toEqual([]);
    }
  });

  it('help replies with the command list', async () => {
    const { target, comment } = setup();
    const c = await comment('/myaas help', { association: 'COLLABORATOR' });
    expect(target.calls).toEqual([]);
    expect(c.reactions).toEqual(['eyes', 'rocket']);
    expect(c.replies()).toEqual([`@alice ${HELP_TEXT}`]);
  });

  it('an unknown command or a bad duration gets 😕 and help saying what was wrong', async () => {
    const { target, comment } = setup();
    const unknown = await comment('/myaas drop-database');
    expect(unknown.reactions).toEqual(['eyes', 'confused']);
    expect(unknown.replies()[0]).toMatch(/^@alice unknown command `drop-database`\.\n\n\*\*myaas commands\*\*/);
    const bad = await comment('/myaas extend forever');
    expect(bad.replies()[0]).toContain('needs a duration such as `3d`');
    expect(target.calls).toEqual([]);
  });

  it('a failing command gets 😕 and a reply with the reason; an internal error does not leak', async () => {
    const { target, comment, log } = setup();
    target.answer('reset', new AppError('conflict', 'instance i7 is being destroyed'));
    const a = await comment('/myaas reset');
    expect(a.reactions).toEqual(['eyes', 'confused']);
    expect(a.replies()).toEqual(['@alice `/myaas reset` failed: instance i7 is being destroyed']);
    target.answer('extend', new Error('connect ECONNREFUSED /var/run/docker.sock'));
    const b = await comment('/myaas extend 2h');
    expect(b.replies()).toEqual(["@alice `/myaas extend` by 2 hours failed: internal error; the controller's log says more"]);
    expect(log.lines.some((l) => l.level === 'warn' && JSON.stringify(l.obj).includes('ECONNREFUSED'))).toBe(true);
  });

  it('nothing to act on gets 😕 and says how to get databases', async () => {
    const { target, comment } = setup();
    target.answer('protect', 0);
    const c = await comment('/myaas protect');
    expect(c.reactions).toEqual(['eyes', 'confused']);
    expect(c.replies()[0]).toContain('no databases to protect; `/myaas recreate` creates them');
  });

  it('answers the webhook before the command finishes, and runs one pull request\'s commands in order', async () => {
    const { target, send, chatOps } = setup();
    const release = target.hold();
    const first = gh.seedComment(REPO, 2, '/myaas reset', 'alice');
    const second = gh.seedComment(REPO, 2, '/myaas recreate', 'alice');
    expect((await send('issue_comment', issueCommentPayload({ commentId: first.id, body: first.body }))).status).toBe(202);
    expect((await send('issue_comment', issueCommentPayload({ commentId: second.id, body: second.body }))).status).toBe(202);
    // The target holds the first command; the second is queued behind it and has not even been seen.
    try {
      await vi.waitFor(() => expect(target.calls.map((c) => c.op)).toEqual(['reset']), { timeout: 30_000 });
      expect(gh.reactions(first.id).map((r) => r.content)).toEqual(['eyes']);
      expect(gh.reactions(second.id)).toEqual([]);
    } finally {
      release();
    }
    await chatOps.idle();
    expect(target.calls.map((c) => c.op)).toEqual(['reset', 'recreate']);
    expect(gh.reactions(second.id).map((r) => r.content)).toEqual(['eyes', 'rocket']);
  });

  it('a GitHub outage while reacting does not stop the command', async () => {
    const { target, comment, log } = setup();
    gh.fail({ status: 502, times: 4, match: (op) => op === 'createCommentReaction' });
    const c = await comment('/myaas reset');
    expect(target.calls).toEqual([{ op: 'reset', owner: OWNER }]);
    expect(c.reactions).toEqual(['rocket']);
    expect(log.lines.some((l) => l.level === 'warn' && l.msg === 'could not react eyes')).toBe(true);
  });
});

describe('everyone else is ignored politely', () => {
  it('no reaction, no reply and nothing done for contributors, first-timers and strangers', async () => {
    const { target, comment, log } = setup();
    for (const association of ['CONTRIBUTOR', 'FIRST_TIME_CONTRIBUTOR', 'FIRST_TIMER', 'NONE', 'MANNEQUIN']) {
      for (const body of ['/myaas reset', '/myaas recreate', '/myaas extend 3d', '/myaas protect', '/myaas unprotect', '/myaas help', '/myaas nonsense']) {
        const c = await comment(body, { user: 'mallory', association });
        expect(c.reactions, `${association} ${body}`).toEqual([]);
        expect(c.replies(), `${association} ${body}`).toEqual([]);
      }
    }
    expect(target.calls).toEqual([]);
    expect(log.lines.filter((l) => l.msg === 'ChatOps command from someone without write access ignored')).toHaveLength(35);
  });

  it('a private organisation member GitHub reports as CONTRIBUTOR but who has write access may command', async () => {
    const { target, comment } = setup();
    gh.seedPermission(REPO, 'quiet-member', 'write');
    const c = await comment('/myaas reset', { user: 'quiet-member', association: 'CONTRIBUTOR' });
    expect(target.calls).toEqual([{ op: 'reset', owner: OWNER }]);
    expect(c.reactions).toEqual(['eyes', 'rocket']);
    gh.seedPermission(REPO, 'reader', 'read');
    const r = await comment('/myaas reset', { user: 'reader', association: 'NONE' });
    expect(r.reactions).toEqual([]);
    expect(target.calls).toHaveLength(1);
  });

  it('bots (our own help reply among them), plain issues, edited comments and ordinary comments do nothing', async () => {
    const { target, comment } = setup();
    const before = gh.requests.length;
    await comment(HELP_TEXT.replace('**myaas commands**', '/myaas reset'), { user: 'myaas-app[bot]', userType: 'Bot', association: 'NONE' });
    await comment('/myaas reset', { user: 'dependabot[bot]', userType: 'Bot', association: 'OWNER' });
    await comment('/myaas reset', { onPullRequest: false });
    await comment('/myaas reset', { action: 'edited' });
    await comment('LGTM, but could you `/myaas reset` later?');
    expect(target.calls).toEqual([]);
    // Not even a permission lookup: these are decided from the payload alone.
    expect(gh.requests.slice(before)).toEqual([]);
  });
});

describe('the myaas:reset label', () => {
  it('resets the pull request and takes the label off again', async () => {
    const { target, send, chatOps, instances } = setup();
    gh.seedPull(REPO, { number: 2, labels: ['bug', 'myaas:reset'] });
    const res = await send('pull_request', labeledPayload({ label: 'myaas:reset' }));
    expect(res.status).toBe(200);
    await chatOps.idle();
    expect(target.calls).toEqual([{ op: 'reset', owner: OWNER }]);
    expect(gh.labels(REPO, 2)).toEqual(['bug']);
    // The pull request handler saw the same delivery and (rightly) did nothing with it.
    expect(instances.calls).toEqual([]);
  });

  it('other labels do nothing; a failed reset says why and still takes the label off', async () => {
    const { target, send, chatOps } = setup();
    gh.seedPull(REPO, { number: 2, labels: ['bug', 'MyAaS:Reset'] });
    await send('pull_request', labeledPayload({ label: 'bug' }));
    await chatOps.idle();
    expect(target.calls).toEqual([]);
    target.answer('reset', new AppError('template_not_ready', 'template chinook has no ready version yet'));
    const before = gh.comments(REPO, 2).length;
    await send('pull_request', labeledPayload({ label: 'MyAaS:Reset', sender: 'bob' }));
    await chatOps.idle();
    expect(gh.labels(REPO, 2)).toEqual(['bug']);
    expect(gh.comments(REPO, 2).slice(before).map((c) => c.body)).toEqual(['@bob `myaas:reset`: reset failed: template chinook has no ready version yet.']);
  });
});
