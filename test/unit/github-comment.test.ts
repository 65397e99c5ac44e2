import { describe, expect, it, vi } from 'vitest';
import type { GitHubClient, IssueComment } from '../../controller/github/client.js';
import { COMMENT_MARKER, createCommentUpdater, renderComment } from '../../controller/github/comment.js';
import type { InstanceView } from '../../controller/domain/types.js';
import { createFakeInstancePort, createMemoryLogger, makeView } from '../helpers/webhook-fixtures.js';

const OWNER = 'gh:octo/app#12';

function view(over: Parameters<typeof makeView>[0] = {}): InstanceView {
  return makeView({
    id: 'i1',
    name: 'pr-12-chinook',
    owner: OWNER,
    template: 'chinook',
    versionId: 'v1',
    status: 'ready',
    expiresAt: null,
    createdAt: new Date('2024-05-02T08:00:00.000Z'),
    readyAt: new Date('2024-05-02T08:00:01.000Z'),
    dataAsOf: new Date('2024-05-01T10:00:00.000Z'),
    connection: {
      host: 'db.example.com',
      port: 32768,
      user: 'myaas_u1',
      password: 's3cret-pw',
      database: 'chinook',
      url: 'postgres://myaas_u1:s3cret-pw@db.example.com:32768/chinook',
    },
    ...over,
  });
}

/** An in-memory GitHubClient: comments per PR, with a switch to make every call fail. */
function memoryClient() {
  const comments = new Map<number, IssueComment & { pr: number }>();
  let id = 100;
  const state = { failing: false, calls: [] as string[] };
  const guard = (op: string) => {
    state.calls.push(op);
    if (state.failing) throw new Error('GitHub is down');
  };
  const client: GitHubClient = {
    async listOpenPulls() {
      return [];
    },
    async findComment(pr, marker) {
      guard('find');
      const hit = [...comments.values()].find((c) => c.pr === pr.number && c.body.startsWith(marker));
      return hit ? { id: hit.id, body: hit.body } : null;
    },
    async createComment(pr, body) {
      guard('create');
      await new Promise((r) => setImmediate(r)); // a real round trip yields; let others race it
      const c = { id: ++id, body, pr: pr.number };
      comments.set(c.id, c);
      return { id: c.id, body };
    },
    async updateComment(_repo, commentId, body) {
      guard('update');
      const c = comments.get(commentId);
      if (!c) return null;
      c.body = body;
      return { id: c.id, body };
    },
    // ChatOps methods: the comment updater never calls them.
    addCommentReaction: async () => guard('react'),
    removeLabel: async () => (guard('unlabel'), false),
    getPermission: async () => (guard('permission'), 'none'),
  };
  return { client, comments, state };
}

describe('renderComment', () => {
  it('starts with the marker, names the pull request, and lists every field per template', () => {
    const body = renderComment({ owner: OWNER, instances: [view({ template: 'sakila', id: 'i2' }), view()], showPassword: false, pullRequest: true });
    expect(body.startsWith(COMMENT_MARKER)).toBe(true);
    expect(body).toContain(`<!-- myaas:owner ${OWNER} -->`);
    expect(body.indexOf('#### chinook')).toBeLessThan(body.indexOf('#### sakila'));
    for (const s of ['| data as of | 2024-05-01 10:00 UTC |', '| host | `db.example.com` |', '| port | `32768` |', '| database | `chinook` |', '| user | `myaas_u1` |', '| status | ✅ ready |', '| expires | when the pull request closes |']) {
      expect(body).toContain(s);
    }
  });

  it('never shows the password or URL unless configured', () => {
    const hidden = renderComment({ owner: OWNER, instances: [view()], showPassword: false });
    expect(hidden).not.toContain('s3cret-pw');
    const shown = renderComment({ owner: OWNER, instances: [view()], showPassword: true });
    expect(shown).toContain('| password | `s3cret-pw` |');
    expect(shown).toContain('postgres://myaas_u1:s3cret-pw@');
  });

  it('shows provisioning, failed with its reason (kept inside its cell), and destroyed', () => {
    const prov = renderComment({ owner: OWNER, instances: [view({ status: 'provisioning', connection: null })], showPassword: true, publicHost: 'db.example.com' });
    expect(prov).toContain('⏳ provisioning');
    expect(prov).toContain('| host | `db.example.com` |');
    expect(prov).toContain('| port | — |');

    const failed = renderComment({ owner: OWNER, instances: [view({ status: 'failed', error: 'clone failed | disk full\nsee logs' })], showPassword: true });
    expect(failed).toContain('| status | ❌ failed: `clone failed \\| disk full see logs` |');
    expect(failed).not.toContain('s3cret-pw');

    const gone = renderComment({ owner: OWNER, instances: [view({ status: 'destroyed', connection: null })], showPassword: false });
    expect(gone).toContain('🗑️ destroyed');
    expect(gone).toContain('its databases are destroyed');
  });

  it('shows an expiry time when there is one, and is deterministic', () => {
    const input = { owner: OWNER, instances: [view({ expiresAt: new Date('2024-06-01T00:00:00Z') })], showPassword: false };
    expect(renderComment(input)).toContain('| expires | 2024-06-01 00:00 UTC |');
    expect(renderComment(input)).toBe(renderComment(input));
  });
});

describe('createCommentUpdater', () => {
  it('creates the comment once, then edits it in place as the status moves on', async () => {
    const { client, comments, state } = memoryClient();
    const updater = createCommentUpdater({ client, log: createMemoryLogger(), commentPassword: false });
    await updater.onChange(view({ status: 'provisioning', connection: null }));
    await updater.onChange(view());
    await updater.onChange(view({ status: 'destroyed', connection: null }));
    expect(comments.size).toBe(1);
    expect([...comments.values()][0].body).toContain('🗑️ destroyed');
    expect(state.calls).toEqual(['find', 'create', 'update', 'update']);
    // reopened: a new instance, the same comment
    await updater.onChange(view({ id: 'i9', status: 'provisioning', connection: null }));
    expect(comments.size).toBe(1);
    expect([...comments.values()][0].body).toContain('⏳ provisioning');
  });

  it('serialises a burst of changes for one pull request into one comment', async () => {
    const { client, comments } = memoryClient();
    const updater = createCommentUpdater({ client, log: createMemoryLogger(), commentPassword: false });
    await Promise.all([
      updater.onChange(view({ status: 'provisioning', connection: null })),
      updater.onChange(view({ template: 'sakila', id: 'i2', status: 'provisioning', connection: null })),
      updater.onChange(view()),
      updater.onChange(view({ template: 'sakila', id: 'i2' })),
    ]);
    await updater.idle();
    expect(comments.size).toBe(1);
    const body = [...comments.values()][0].body;
    expect(body).toContain('#### sakila');
    expect(body).not.toContain('provisioning');
  });

  it('does not edit when nothing visible changed', async () => {
    const { client, state } = memoryClient();
    const updater = createCommentUpdater({ client, log: createMemoryLogger(), commentPassword: false });
    await updater.onChange(view());
    await updater.onChange(view({ readyAt: new Date('2024-05-02T08:00:02.000Z') }));
    expect(state.calls).toEqual(['find', 'create']);
  });

  it('finds the comment of an earlier run by its marker, and recreates one someone deleted', async () => {
    const { client, comments, state } = memoryClient();
    comments.set(7, { id: 7, pr: 12, body: `${COMMENT_MARKER}\nold` });
    comments.set(8, { id: 8, pr: 12, body: `> ${COMMENT_MARKER}\nsomeone quoting it` });
    const updater = createCommentUpdater({ client, log: createMemoryLogger(), commentPassword: false });
    await updater.onChange(view({ status: 'provisioning', connection: null }));
    expect(comments.get(7)?.body).toContain('provisioning');
    expect(comments.get(8)?.body).toContain('someone quoting it');
    comments.delete(7);
    await updater.onChange(view());
    expect(state.calls.slice(-2)).toEqual(['update', 'create']);
    expect([...comments.values()].filter((c) => c.body.startsWith(COMMENT_MARKER))).toHaveLength(1);
  });

  it('after a restart, shows the pull request’s other live instances too', async () => {
    const { client, comments } = memoryClient();
    const instances = createFakeInstancePort();
    await instances.ensure({ owner: OWNER, template: 'sakila' });
    await instances.ensure({ owner: 'gh:octo/app#123', template: 'other' });
    const updater = createCommentUpdater({ client, log: createMemoryLogger(), commentPassword: false, instances });
    await updater.onChange(view());
    const body = [...comments.values()][0].body;
    expect(body).toContain('#### sakila');
    expect(body).toContain('#### chinook');
    expect(body).not.toContain('#### other');
  });

  it('logs a GitHub failure and never rejects; ignores owners that are not pull requests', async () => {
    const { client, state } = memoryClient();
    const log = createMemoryLogger();
    const updater = createCommentUpdater({ client, log, commentPassword: true });
    state.failing = true;
    await expect(updater.onChange(view())).resolves.toBeUndefined();
    expect(log.lines.some((l) => l.level === 'warn' && /comment/.test(String(l.msg)))).toBe(true);
    expect(log.text()).not.toContain('s3cret-pw');
    state.failing = false;
    state.calls.length = 0;
    await updater.onChange(view({ owner: 'api:alice' }));
    await updater.onChange(view({ owner: 'gh:octo/app@run-99' }));
    expect(state.calls).toEqual([]);
  });

  it('catches up when GitHub comes back: a failed write is tried again later, with the newest state', async () => {
    vi.useFakeTimers();
    try {
      const { client, comments, state } = memoryClient();
      const updater = createCommentUpdater({ client, log: createMemoryLogger(), commentPassword: false });
      state.failing = true;
      await updater.onChange(view({ status: 'provisioning', connection: null }));
      await updater.onChange(view({ status: 'ready' }));
      expect(updater.pending()).toEqual([OWNER]);
      expect(comments.size).toBe(0);
      state.failing = false;
      await vi.advanceTimersByTimeAsync(60_000);
      await updater.idle();
      expect(updater.pending()).toEqual([]);
      const mine = [...comments.values()].filter((c) => c.body.startsWith(COMMENT_MARKER));
      expect(mine).toHaveLength(1);
      expect(mine[0].body).toContain('✅ ready');
      updater.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
