// The sticky pull request comment: rendered from the PR's instances, found again by its marker, and
// edited in place. A GitHub failure is logged here and never reaches the instance flow.
import { messageOf } from '../domain/errors.js';
import type { Logger } from '../domain/ports.js';
import type { GitHubClient } from './client.js';
import type { InstancePort, InstanceView } from './ports.js';
import { parsePullOwnerKey } from './pull-requests.js';

/** Starts the comment's body; what findComment looks for. */
export const COMMENT_MARKER = '<!-- myaas:instance -->';

export interface RenderInput {
  owner: string;
  instances: InstanceView[];
  /** include password and URL (only for private repositories, by configuration) */
  showPassword: boolean;
  /** host to show when an instance has no connection details yet */
  publicHost?: string;
}

const STATUS: Record<InstanceView['status'], string> = {
  provisioning: '⏳ provisioning',
  ready: '✅ ready',
  failed: '❌ failed',
  destroying: '🗑️ destroying',
  destroyed: '🗑️ destroyed',
};

/** A table cell: one line, pipes escaped (they would split the cell), bounded length. */
function cell(s: string, max = 300): string {
  const one = s.replace(/[\r\n\t]+/g, ' ').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  const cut = one.length > max ? `${one.slice(0, max - 1)}…` : one;
  return cut.replace(/\|/g, '\\|');
}

/** Inline code that survives backticks in the value. */
function code(s: string): string {
  const v = cell(s);
  if (!v) return '—';
  const fence = v.includes('`') ? '``' : '`';
  return `${fence}${fence.length > 1 ? ' ' : ''}${v}${fence.length > 1 ? ' ' : ''}${fence}`;
}

function when(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return cell(iso);
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function section(v: InstanceView, input: RenderInput): string {
  const c = v.connection;
  const live = v.status === 'provisioning' || v.status === 'ready';
  let status = STATUS[v.status] ?? cell(v.status);
  if (v.status === 'failed') status += `: ${v.error ? code(v.error) : 'no reason given'}`;
  const rows: [string, string][] = [
    ['template', code(v.template)],
    ['data as of', when(v.dataAsOf)],
    ['host', code(c?.host ?? input.publicHost ?? '')],
    ['port', c?.port ? code(String(c.port)) : '—'],
    ['database', code(c?.database ?? '')],
    ['user', code(c?.user ?? '')],
  ];
  if (input.showPassword && live && c) {
    rows.push(['password', code(c.password)], ['url', code(c.url)]);
  }
  rows.push(
    ['status', status],
    ['expires', v.expiresAt ? when(v.expiresAt) : v.status === 'destroyed' ? '—' : 'when the pull request closes'],
  );
  return [`#### ${cell(v.template)}`, '', '| | |', '| --- | --- |', ...rows.map(([k, val]) => `| ${k} | ${val} |`)].join('\n');
}

/** The whole comment body. Pure: same input, same text (so unchanged state needs no edit). */
export function renderComment(input: RenderInput): string {
  const list = [...input.instances].sort((a, b) => a.template.localeCompare(b.template));
  const allGone = list.length > 0 && list.every((v) => v.status === 'destroyed');
  const lines = [
    COMMENT_MARKER,
    `<!-- myaas:owner ${cell(input.owner).replace(/-->/g, '')} -->`,
    '### 🗄️ Databases for this pull request',
    '',
    allGone
      ? 'The pull request was closed: its databases are destroyed.'
      : 'Each template below is a private copy-on-write database for this pull request.',
  ];
  for (const v of list) lines.push('', section(v, input));
  if (!input.showPassword && !allGone) {
    lines.push('', '<sub>The password is not shown here; a workflow step `uses: <org>/myaas-action@v1` exports the full `DB_URL`.</sub>');
  }
  return `${lines.join('\n')}\n`;
}

export interface CommentUpdaterDeps {
  client: GitHubClient;
  log: Logger;
  commentPassword: boolean;
  publicHost?: string;
  /** to learn a pull request's other instances after a restart (optional) */
  instances?: Pick<InstancePort, 'listByOwnerPrefix'>;
}

export interface CommentUpdater {
  /** Feed an instance change (wire it to InstancePort.onChange). Resolves once written; never rejects. */
  onChange(view: InstanceView): Promise<void>;
  /** Resolves when every queued write has finished (tests, shutdown). */
  idle(): Promise<void>;
}

export function createCommentUpdater(deps: CommentUpdaterDeps): CommentUpdater {
  const log = deps.log.child({ component: 'pr-comment' });
  // Per pull request: its instances by template, the comment id and the last body written.
  const views = new Map<string, Map<string, InstanceView>>();
  const commentIds = new Map<string, number>();
  const written = new Map<string, string>();
  // Per pull request: one write at a time, and at most one waiting (it renders the newest state anyway).
  const queues = new Map<string, { tail: Promise<void>; waiting: Promise<void> | null }>();
  const seeding = new Map<string, Promise<Map<string, InstanceView>>>();
  const inflight = new Set<Promise<void>>();

  async function seed(owner: string): Promise<Map<string, InstanceView>> {
    const byTemplate = new Map<string, InstanceView>();
    if (deps.instances) {
      try {
        for (const v of await deps.instances.listByOwnerPrefix(owner)) if (v.owner === owner) byTemplate.set(v.template, v);
      } catch (e) {
        log.warn({ owner, err: messageOf(e) }, 'could not list the pull request instances; the comment shows what is known');
      }
    }
    return byTemplate;
  }

  async function write(owner: string): Promise<void> {
    const pr = parsePullOwnerKey(owner);
    const byTemplate = views.get(owner);
    if (!pr || !byTemplate) return;
    const body = renderComment({
      owner,
      instances: [...byTemplate.values()],
      showPassword: deps.commentPassword,
      publicHost: deps.publicHost,
    });
    if (written.get(owner) !== body) {
      let id = commentIds.get(owner) ?? (await deps.client.findComment(pr, COMMENT_MARKER))?.id;
      // A comment deleted by someone comes back as a new one.
      const updated = id !== undefined ? await deps.client.updateComment(pr, id, body) : null;
      if (!updated) id = (await deps.client.createComment(pr, body)).id;
      commentIds.set(owner, id as number);
      written.set(owner, body);
      log.info({ owner, commentId: id, created: !updated }, 'pull request comment written');
    }
    // Everything destroyed: the comment is final, so forget the pull request (memory stays bounded);
    // a reopen finds the same comment again by its marker.
    if ([...byTemplate.values()].every((v) => v.status === 'destroyed')) {
      views.delete(owner);
      written.delete(owner);
      commentIds.delete(owner);
    }
  }

  function schedule(owner: string): Promise<void> {
    let q = queues.get(owner);
    if (!q) {
      q = { tail: Promise.resolve(), waiting: null };
      queues.set(owner, q);
    }
    if (q.waiting) return q.waiting;
    const queue = q;
    const run = queue.tail.then(async () => {
      queue.waiting = null;
      try {
        await write(owner);
      } catch (e) {
        log.warn({ owner, err: messageOf(e) }, 'could not update the pull request comment; the instance is unaffected');
      }
    });
    queue.waiting = run;
    queue.tail = run;
    void run.then(() => {
      if (queue.tail === run) queues.delete(owner);
    });
    return run;
  }

  async function record(view: InstanceView): Promise<void> {
    let byTemplate = views.get(view.owner);
    if (!byTemplate) {
      // Changes that arrive while the first one lists wait on the same listing, then apply in order.
      let pending = seeding.get(view.owner);
      if (!pending) {
        pending = seed(view.owner).then((m) => {
          views.set(view.owner, m);
          seeding.delete(view.owner);
          return m;
        });
        seeding.set(view.owner, pending);
      }
      byTemplate = await pending;
    }
    byTemplate.set(view.template, view);
    return schedule(view.owner);
  }

  return {
    onChange: (view) => {
      if (!parsePullOwnerKey(view.owner)) return Promise.resolve();
      const p = record(view);
      inflight.add(p);
      void p.then(() => inflight.delete(p));
      return p;
    },
    idle: async () => {
      while (inflight.size) await Promise.all([...inflight]);
    },
  };
}
