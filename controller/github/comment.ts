// The sticky pull request comment: rendered from the PR's instances, found again by its marker, and
// edited in place. A GitHub failure is logged here and never reaches the instance flow.
import { messageOf } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import { displayTemplate } from '../domain/names.js';
import type { SchemaDiff } from '../domain/schema.js';
import { renderSchemaDiffMarkdown } from '../domain/schema-markdown.js';
import { parseOwner } from '../domain/owner.js';
import type { InstanceStatus, InstanceView } from '../domain/types.js';
import { createKeyedQueue } from '../lib/keyed-queue.js';
import type { InstanceService } from '../app/ports.js';
import type { GitHubClient, PullRef } from './client.js';

/** After a failed write, the next try waits this long, doubling up to the maximum. */
const CATCH_UP_BASE_MS = 5_000;
const CATCH_UP_MAX_MS = 300_000;

/** Starts the comment's body; what findComment looks for. */
export const COMMENT_MARKER = '<!-- myaas:instance -->';

export interface RenderInput {
  owner: string;
  instances: InstanceView[];
  /** include password and URL (only for private repositories, by configuration) */
  showPassword: boolean;
  /** the owner is a pull request: its instances end with it */
  pullRequest?: boolean;
  /** MYAAS_GITHUB_IDLE_TTL is set: a pull request's instances expire without pushes */
  idleExpiry?: boolean;
  /** host to show when an instance has no connection details yet */
  publicHost?: string;
}

const STATUS: Record<InstanceStatus, string> = {
  queued: '⏸️ waiting for capacity',
  retrying: '🔁 retrying',
  provisioning: '⏳ provisioning',
  ready: '✅ ready',
  suspended: '💤 suspended: wakes when a client connects',
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

function when(d: Date | null): string {
  if (!d || Number.isNaN(d.getTime())) return '—';
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * What the pull request's migrations did to the schema, against the template version the instance was
 * cloned from; the space of one comment (GitHub takes 65536 characters) is shared by its instances.
 */
function schemaSection(json: string, at: Date | null, instances: number): string | null {
  let diff: SchemaDiff;
  try {
    diff = JSON.parse(json) as SchemaDiff;
  } catch {
    return null;
  }
  const budget = Math.floor(48_000 / Math.max(1, instances));
  return [`<sub>Schema against the template, as of ${when(at)}:</sub>`, '', renderSchemaDiffMarkdown(diff, { maxChars: budget })].join('\n');
}

/** When a reviewer can count on the database. */
function expiry(v: InstanceView['instance'], input: RenderInput): string {
  if (v.status === 'destroyed') return '—';
  if (v.protected) return 'when the pull request closes (protected)';
  // Without an idle limit a pull request's expiry moves with every sighting: it ends with the pull request.
  if (input.pullRequest && !input.idleExpiry) return 'when the pull request closes';
  return v.expiresAt ? `${when(v.expiresAt)}${input.idleExpiry ? ' unless pushed to (or `/myaas extend 3d`, `/myaas protect`)' : ''}` : 'when the pull request closes';
}

function section(view: InstanceView, input: RenderInput): string {
  const v = view.instance;
  const c = view.connection;
  const live = v.status === 'provisioning' || v.status === 'ready' || v.status === 'suspended';
  let status = STATUS[v.status] ?? cell(v.status);
  if (v.status === 'failed') status += `: ${v.error ? code(v.error) : 'no reason given'}`;
  if (v.status === 'retrying') status += ` (attempt ${v.attempts + 1}${v.retryAt ? ` at ${when(v.retryAt)}` : ''})${v.error ? `: ${code(v.error)}` : ''}`;
  const rows: [string, string][] = [
    ['template', code(displayTemplate(v.template))],
    ['data as of', when(view.dataAsOf)],
    ['host', code(c?.host ?? input.publicHost ?? '')],
    ['port', c?.port ? code(String(c.port)) : '—'],
    ['database', code(c?.database ?? '')],
    ['user', code(c?.user ?? '')],
  ];
  if (input.showPassword && live && c) {
    rows.push(['password', code(c.password)], ['url', code(c.url)]);
  }
  rows.push(['status', status]);
  if (v.lastFault && v.status !== 'destroyed') rows.push(['last fault', code(v.lastFault)]);
  rows.push(['expires', expiry(v, input)]);
  const table = [`#### ${cell(displayTemplate(v.template))}`, '', '| | |', '| --- | --- |', ...rows.map(([k, val]) => `| ${k} | ${val} |`)];
  const diff = v.schemaDiff && v.status !== 'destroyed' ? schemaSection(v.schemaDiff, v.schemaDiffAt, input.instances.length) : null;
  return [...table, ...(diff ? ['', diff] : [])].join('\n');
}

/** The whole comment body. Pure: same input, same text (so unchanged state needs no edit). */
export function renderComment(input: RenderInput): string {
  const list = [...input.instances].sort((a, b) => a.instance.template.localeCompare(b.instance.template));
  const allGone = list.length > 0 && list.every((v) => v.instance.status === 'destroyed');
  const lines = [
    COMMENT_MARKER,
    `<!-- myaas:owner ${cell(input.owner).replace(/-->/g, '')} -->`,
    '### 🗄️ Databases for this pull request',
    '',
    allGone
      ? list.some((v) => v.instance.endReason === 'expired')
        ? 'The databases expired (no push for a while). Push to the pull request, or comment `/myaas recreate`, to get fresh ones.'
        : 'The pull request was closed: its databases are destroyed.'
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
  /** MYAAS_GITHUB_IDLE_TTL is set: the comment shows when the databases expire without a push */
  idleExpiry?: boolean;
  /** whether a repository is private (null: unknown, treated as public) */
  isPrivate?: (repo: string) => Promise<boolean | null>;
  publicHost?: string;
  /** to learn a pull request's other instances after a restart (optional) */
  instances?: Pick<InstanceService, 'viewsOf'>;
}

export interface CommentUpdater {
  /** Feed an instance change (wire it to InstanceService.onChange). Resolves once written; never rejects. */
  onChange(view: InstanceView): Promise<void>;
  /** Resolves when every queued write has finished (tests, shutdown). */
  idle(): Promise<void>;
  /** Owner keys of pull requests whose comment is behind (GitHub failed) and will be retried. */
  pending(): string[];
  /** Stops the timers of pending catch-ups. */
  close(): void;
}

export function createCommentUpdater(deps: CommentUpdaterDeps): CommentUpdater {
  const log = deps.log.child({ component: 'pr-comment' });
  // Per pull request (by owner key): its instances by template, the comment id and the last body written.
  const views = new Map<string, Map<string, InstanceView>>();
  const commentIds = new Map<string, number>();
  const written = new Map<string, string>();
  // Per pull request: one write at a time, and at most one waiting (it renders the newest state anyway).
  const writes = createKeyedQueue();
  const seeding = new Map<string, Promise<Map<string, InstanceView>>>();
  // Pull requests whose comment could not be written (GitHub down): failures in a row, and the timer of the next try.
  const failures = new Map<string, number>();
  const retries = new Map<string, NodeJS.Timeout>();
  const inflight = new Set<Promise<void>>();

  async function seed(owner: string): Promise<Map<string, InstanceView>> {
    const byTemplate = new Map<string, InstanceView>();
    const key = parseOwner(owner);
    if (deps.instances && key) {
      try {
        for (const v of await deps.instances.viewsOf(key)) byTemplate.set(v.instance.template, v);
      } catch (e) {
        log.warn({ owner, err: messageOf(e) }, 'could not list the pull request instances; the comment shows what is known');
      }
    }
    return byTemplate;
  }

  async function write(owner: string, pr: PullRef): Promise<void> {
    const byTemplate = views.get(owner);
    if (!byTemplate) return;
    // MYAAS_GITHUB_COMMENT_PASSWORD shows the password only where a comment is not public: private repositories.
    const repo = `${pr.owner}/${pr.repo}`;
    const showPassword = deps.commentPassword && (await deps.isPrivate?.(repo)) === true;
    const body = renderComment({
      owner, instances: [...byTemplate.values()], showPassword, publicHost: deps.publicHost, pullRequest: true, idleExpiry: deps.idleExpiry,
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
    if ([...byTemplate.values()].every((v) => v.instance.status === 'destroyed')) {
      views.delete(owner);
      written.delete(owner);
      commentIds.delete(owner);
    }
  }

  async function record(view: InstanceView, pr: PullRef): Promise<void> {
    const owner = view.instance.owner;
    let byTemplate = views.get(owner);
    if (!byTemplate) {
      // Changes that arrive while the first one lists wait on the same listing, then apply in order.
      let pending = seeding.get(owner);
      if (!pending) {
        pending = seed(owner).then((m) => {
          views.set(owner, m);
          seeding.delete(owner);
          return m;
        });
        seeding.set(owner, pending);
      }
      byTemplate = await pending;
    }
    byTemplate.set(view.instance.template, view);
    return schedule(owner, pr);
  }

  /** Writes the pull request's comment; when GitHub fails, tries again later until it succeeds. */
  function schedule(owner: string, pr: PullRef): Promise<void> {
    return writes.coalesce(owner, async () => {
      try {
        await write(owner, pr);
        failures.delete(owner);
      } catch (e) {
        const n = (failures.get(owner) ?? 0) + 1;
        failures.set(owner, n);
        const waitMs = Math.min(CATCH_UP_MAX_MS, CATCH_UP_BASE_MS * 2 ** (n - 1));
        log.warn({ owner, err: messageOf(e), retryInMs: waitMs }, 'could not update the pull request comment; the instance is unaffected, the comment catches up later');
        clearTimeout(retries.get(owner));
        const t = setTimeout(() => {
          retries.delete(owner);
          if (views.has(owner)) void schedule(owner, pr);
        }, waitMs);
        t.unref?.();
        retries.set(owner, t);
      }
    });
  }

  return {
    onChange: (view) => {
      const key = parseOwner(view.instance.owner);
      if (key?.kind !== 'pull') return Promise.resolve();
      const [owner, repo] = key.repo.split('/');
      const p = record(view, { owner, repo, number: key.number });
      inflight.add(p);
      void p.then(() => inflight.delete(p));
      return p;
    },
    idle: async () => {
      while (inflight.size) await Promise.all([...inflight]);
      await writes.idle();
    },
    pending: () => [...failures.keys()],
    close() {
      for (const t of retries.values()) clearTimeout(t);
      retries.clear();
    },
  };
}
