// The one side effect towards GitHub's REST API: open pull requests and the sticky comment.
// Token or GitHub App auth; the base URL is configurable so GitHub Enterprise Server works.
import type { Octokit } from '@octokit/rest';
import { createAuthResolver, type RepoRef } from './client-auth.js';
import { AppError, messageOf } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import type { Clock } from '../lib/clock.js';
import { retry } from '../lib/retry.js';
import type { Telemetry } from '../app/ports.js';

export type { RepoRef } from './client-auth.js';

export interface PullRef extends RepoRef {
  number: number;
}

export interface OpenPull {
  number: number;
  /** base repository, `owner/repo` as GitHub spells it */
  repo: string;
  /** head repository `owner/repo`; null when the fork it came from was deleted */
  headRepo: string | null;
  updatedAt: string;
}

export interface IssueComment {
  id: number;
  body: string;
}

/** The reactions ChatOps uses to acknowledge a command. */
export type Reaction = 'eyes' | 'rocket' | 'confused';

/** A user's access to a repository, as GitHub's legacy base roles name it. */
export type RepoPermission = 'admin' | 'write' | 'read' | 'none';

export interface GitHubClient {
  listOpenPulls(repo: RepoRef): Promise<OpenPull[]>;
  /**
   * The first comment on the pull request that this client's own user (or App bot) wrote and whose
   * body starts with `marker`: someone else's comment starting with the marker is never adopted.
   */
  findComment(pr: PullRef, marker: string): Promise<IssueComment | null>;
  createComment(pr: PullRef, body: string): Promise<IssueComment>;
  /** Edits a comment in place; null when it no longer exists (someone deleted it). */
  updateComment(repo: RepoRef, commentId: number, body: string): Promise<IssueComment | null>;
  /** Adds a reaction to an issue (or pull request) comment; adding one that is there already is fine. */
  addCommentReaction(repo: RepoRef, commentId: number, content: Reaction): Promise<void>;
  /** Removes a label from a pull request; false when it was not there (someone removed it first). */
  removeLabel(pr: PullRef, name: string): Promise<boolean>;
  /** `username`'s permission on the repository ('none' when GitHub does not know them there). */
  getPermission(repo: RepoRef, username: string): Promise<RepoPermission>;
}

export interface GitHubClientOptions {
  apiUrl: string;
  token: string | null;
  appId: string | null;
  privateKey: string | null;
  /** attempts after the first one for transient failures (default 3) */
  retries?: number;
  /** first backoff delay; doubles per attempt (default 1000 ms) */
  retryBaseMs?: number;
  /** longest wait we accept from a rate limit before giving up (default 60 s) */
  maxRetryWaitMs?: number;
  /** per-request timeout (default 10 s) so a hung connection cannot stall a comment queue */
  requestTimeoutMs?: number;
  /** time for the backoff between attempts */
  clock: Clock;
  /** counts calls that failed after their retries (metrics) */
  telemetry?: Pick<Telemetry, 'githubError'>;
}

export function githubAuthConfigured(o: Pick<GitHubClientOptions, 'token' | 'appId' | 'privateKey'>): boolean {
  return Boolean(o.token || (o.appId && o.privateKey));
}

interface HttpishError {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | number | undefined> };
}

/** How long to wait before retrying `e`, or null when retrying cannot help. */
export function retryDelay(e: unknown, attempt: number, baseMs: number, maxWaitMs: number, now = Date.now()): number | null {
  const err = (e ?? {}) as HttpishError;
  const status = typeof err.status === 'number' ? err.status : 0;
  const headers = err.response?.headers ?? {};
  const backoff = baseMs * 2 ** attempt;
  const retryAfter = Number(headers['retry-after']);
  if (Number.isFinite(retryAfter) && retryAfter > 0 && (status === 403 || status === 429 || status >= 500)) {
    const ms = retryAfter * 1000;
    return ms <= maxWaitMs ? Math.max(ms, backoff) : null;
  }
  if (status >= 500 || status === 429) return backoff;
  // 403 is also what the secondary rate limit answers; a plain permission error must not be retried.
  if (status === 403) {
    // GitHub asks for at least a minute when the secondary limit answers without retry-after.
    if (/secondary rate limit|abuse detection/i.test(err.message ?? '')) return Math.min(Math.max(backoff, 60_000), maxWaitMs);
    if (String(headers['x-ratelimit-remaining']) === '0') {
      const reset = Number(headers['x-ratelimit-reset']) * 1000 - now;
      return Number.isFinite(reset) && reset <= maxWaitMs ? Math.max(reset, backoff) : null;
    }
  }
  return null;
}

const statusOf = (e: unknown): number | undefined => (e as HttpishError | undefined)?.status;

export function createGitHubClient(cfg: GitHubClientOptions, log: Logger): GitHubClient {
  if (!githubAuthConfigured(cfg)) {
    throw new AppError('bad_request', 'GitHub API auth is not configured: set MYAAS_GITHUB_TOKEN, or MYAAS_GITHUB_APP_ID and MYAAS_GITHUB_PRIVATE_KEY');
  }
  const glog = log.child({ component: 'github-client' });
  const retries = cfg.retries ?? 3;
  const baseMs = cfg.retryBaseMs ?? 1000;
  const maxWaitMs = cfg.maxRetryWaitMs ?? 60_000;
  const timeoutMs = cfg.requestTimeoutMs ?? 10_000;

  const common = {
    baseUrl: cfg.apiUrl,
    userAgent: 'myaas',
    // Octokit would print to the console; route its notices through our logger instead.
    log: {
      debug: (m: string) => glog.debug(String(m)),
      info: (m: string) => glog.info(String(m)),
      warn: (m: string) => glog.warn(String(m)),
      error: (m: string) => glog.error(String(m)),
    },
  };
  const withTimeout = (o: Octokit): Octokit => {
    o.hook.before('request', (options) => {
      options.request = { ...options.request, signal: AbortSignal.timeout(timeoutMs) };
    });
    return o;
  };

  const forRepo = createAuthResolver(cfg, common, withTimeout);

  /** Runs `fn`, retrying transient failures with backoff; logs each failure without request details. */
  async function call<T>(op: string, repo: RepoRef, fn: (o: Octokit) => Promise<T>): Promise<T> {
    const fields = (e: unknown, attempt: number) => ({ op, repo: `${repo.owner}/${repo.repo}`, attempt: attempt + 1, status: statusOf(e), err: messageOf(e) });
    let attempts = 0;
    try {
      return await retry(
        async (attempt) => {
          attempts = attempt;
          try {
            return await fn(await forRepo.get(repo));
          } catch (e) {
            if (statusOf(e) === 401) forRepo.forget(repo);
            throw e;
          }
        },
        {
          clock: cfg.clock,
          what: `GitHub API ${op}`,
          retries,
          delay: (attempt, e) => retryDelay(e, attempt, baseMs, maxWaitMs, cfg.clock.now()),
          onRetry: (e, attempt, wait) => glog.warn({ ...fields(e, attempt), retryInMs: wait }, 'GitHub API call failed; retrying'),
        },
      );
    } catch (e) {
      glog.warn(fields(e, attempts), 'GitHub API call failed');
      // Octokit reports a request that got no answer (refused, reset, timed out) as status 500 without a response.
      const answered = (e as { name?: string }).name !== 'HttpError' || (e as HttpishError).response !== undefined;
      cfg.telemetry?.githubError({ operation: op, status: answered ? (statusOf(e) ?? null) : null });
      throw new AppError('internal', `GitHub API ${op} on ${repo.owner}/${repo.repo} failed: ${messageOf(e)}`);
    }
  }

  return {
    listOpenPulls: (repo) =>
      call('list open pulls', repo, async (o) => {
        const pulls = await o.paginate(o.rest.pulls.list, { ...repo, state: 'open', per_page: 100 });
        return pulls.map((p) => ({
          number: p.number,
          repo: p.base.repo.full_name,
          // The schema says non-null, but GitHub answers null once the fork is deleted.
          headRepo: (p.head.repo as { full_name: string } | null)?.full_name ?? null,
          updatedAt: p.updated_at,
        }));
      }),
    findComment: (pr, marker) =>
      call('find comment', pr, async (o) => {
        const pages = o.paginate.iterator(o.rest.issues.listComments, {
          owner: pr.owner,
          repo: pr.repo,
          issue_number: pr.number,
          per_page: 100,
        });
        const me = (await forRepo.login()).toLowerCase();
        for await (const page of pages) {
          const hit = page.data.find((c) => c.user?.login.toLowerCase() === me && (c.body ?? '').trimStart().startsWith(marker));
          if (hit) return { id: hit.id, body: hit.body ?? '' };
        }
        return null;
      }),
    createComment: (pr, body) =>
      call('create comment', pr, async (o) => {
        const { data } = await o.rest.issues.createComment({ owner: pr.owner, repo: pr.repo, issue_number: pr.number, body });
        return { id: data.id, body: data.body ?? '' };
      }),
    updateComment: (repo, commentId, body) =>
      call('update comment', repo, async (o) => {
        try {
          const { data } = await o.rest.issues.updateComment({ owner: repo.owner, repo: repo.repo, comment_id: commentId, body });
          return { id: data.id, body: data.body ?? '' };
        } catch (e) {
          if (statusOf(e) === 404) return null;
          throw e;
        }
      }),
    addCommentReaction: (repo, commentId, content) =>
      call('add reaction', repo, async (o) => {
        await o.rest.reactions.createForIssueComment({ owner: repo.owner, repo: repo.repo, comment_id: commentId, content });
      }),
    removeLabel: (pr, name) =>
      call('remove label', pr, async (o) => {
        try {
          await o.rest.issues.removeLabel({ owner: pr.owner, repo: pr.repo, issue_number: pr.number, name });
          return true;
        } catch (e) {
          if (statusOf(e) === 404) return false;
          throw e;
        }
      }),
    getPermission: (repo, username) =>
      call('get permission', repo, async (o) => {
        try {
          const { data } = await o.rest.repos.getCollaboratorPermissionLevel({ owner: repo.owner, repo: repo.repo, username });
          const p = data.permission;
          return p === 'admin' || p === 'write' || p === 'read' ? p : 'none';
        } catch (e) {
          if (statusOf(e) === 404) return 'none';
          throw e;
        }
      }),
  };
}
