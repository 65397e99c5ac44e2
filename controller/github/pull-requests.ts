// What a pull request event means for its instances. Webhooks and the resync both come through here,
// so the repository check, the fork rule and the ordering guard live in one place. The ordering guard
// is kept in the state DB (pull_requests), so an old signed event replayed after a restart is still
// recognised as older than what was applied.
import { AppError, messageOf } from '../domain/errors.js';
import type { PullRequestRecord } from '../domain/github.js';
import type { Logger } from '../domain/logger.js';
import { formatOwner, pullOwner, type OwnerKey } from '../domain/owner.js';
import { createKeyedQueue } from '../lib/keyed-queue.js';
import type { Clock, GitHubStore, InstanceService } from '../app/ports.js';
import type { RepositoryGate } from './repository-gate.js';

/** A pull request event, reduced to what decides its instances. */
export interface PullRequestEvent {
  /** opened, reopened, closed, synchronize, … (others only count as a sighting) */
  action: string;
  number: number;
  /** base repository `owner/repo` */
  repo: string;
  /** GitHub's ids of the base repository and its owner, when the event carries them */
  repoId?: number | null;
  ownerId?: number | null;
  private?: boolean | null;
  /** head repository `owner/repo`; null when the fork was deleted */
  headRepo: string | null;
  /** the pull request's updated_at at the time of the event; orders events that arrive out of order */
  updatedAt: string | null;
}

export type PullRequestOutcome =
  | { result: 'ensured'; owner: OwnerKey; templates: string[]; created: number }
  | { result: 'destroyed'; owner: OwnerKey; count: number }
  | { result: 'reset'; owner: OwnerKey; count: number }
  | { result: 'seen'; owner: OwnerKey }
  | { result: 'ignored'; owner: OwnerKey | null; reason: 'unknown_repo' | 'fork' | 'stale' };

export interface PullRequestHandler {
  handle(event: PullRequestEvent): Promise<PullRequestOutcome>;
}

export interface PullRequestHandlerDeps {
  instances: Pick<InstanceService, 'create' | 'destroyOwner' | 'resetOwner' | 'refreshLifetime'>;
  /** `owner/repo` (lowercase) → templates each of its pull requests gets */
  repos: Record<string, string[]>;
  gate: Pick<RepositoryGate, 'admit'>;
  pulls: Pick<GitHubStore, 'getPullRequest' | 'savePullRequest'>;
  clock: Clock;
  allowForks: boolean;
  resetOnPush: boolean;
  log: Logger;
}

export function isFork(e: Pick<PullRequestEvent, 'repo' | 'headRepo'>): boolean {
  return e.headRepo === null || e.headRepo.toLowerCase() !== e.repo.toLowerCase();
}

/** The webhook payload's `pull_request` event, reduced. */
export function fromWebhookPayload(p: {
  action: string;
  number: number;
  repository: { full_name: string; id?: number; private?: boolean; owner?: { id?: number } | null };
  pull_request: { updated_at?: string | null; head: { repo: { full_name: string } | null } };
}): PullRequestEvent {
  return {
    action: p.action,
    number: p.number,
    repo: p.repository.full_name,
    repoId: p.repository.id ?? null,
    ownerId: p.repository.owner?.id ?? null,
    private: p.repository.private ?? null,
    headRepo: p.pull_request.head.repo?.full_name ?? null,
    updatedAt: p.pull_request.updated_at ?? null,
  };
}

type Kind = 'open' | 'closed';
const KIND: Record<string, Kind> = { opened: 'open', reopened: 'open', closed: 'closed', synchronize: 'open' };

/** Stale when a newer event of the other kind was applied; a tie goes to close so a pull request never leaks. */
function stale(prev: PullRequestRecord | null, kind: Kind, at: Date | null): boolean {
  if (!prev?.updatedAt || !at || prev.state === kind) return false;
  return kind === 'open' ? at <= prev.updatedAt : at < prev.updatedAt;
}

export function createPullRequestHandler(deps: PullRequestHandlerDeps): PullRequestHandler {
  const log = deps.log.child({ component: 'pull-requests' });
  // Per pull request: its events one after another, so a close waits for an open that is still creating.
  const chains = createKeyedQueue();

  /** Get-or-create of the pull request's instances; every template gets its chance even when one fails. */
  async function ensure(key: OwnerKey, templates: string[]): Promise<number> {
    let created = 0;
    const failures: string[] = [];
    for (const template of templates) {
      try {
        if ((await deps.instances.create({ owner: key, template })).created) created++;
      } catch (err) {
        failures.push(`${template}: ${messageOf(err)}`);
      }
    }
    if (failures.length) throw new AppError('internal', `could not create instances for ${formatOwner(key)}: ${failures.join('; ')}`);
    return created;
  }

  async function apply(e: PullRequestEvent, key: OwnerKey & { kind: 'pull' }, templates: string[]): Promise<PullRequestOutcome> {
    const owner = formatOwner(key);
    const parsed = e.updatedAt ? new Date(e.updatedAt) : null;
    const at = parsed && Number.isFinite(parsed.getTime()) ? parsed : null;
    const kind: Kind | undefined = KIND[e.action];
    const prev = await deps.pulls.getPullRequest(key.repo, key.number);
    if (kind && stale(prev, kind, at)) return { result: 'ignored', owner: key, reason: 'stale' };
    const now = new Date(deps.clock.now());
    const applied = kind === 'open' || kind === 'closed';
    const pushed = e.action === 'opened' || e.action === 'reopened' || e.action === 'synchronize';
    await deps.pulls.savePullRequest({
      repo: key.repo,
      number: key.number,
      headRepo: e.headRepo,
      fork: isFork(e),
      state: applied ? kind : (prev?.state ?? 'open'),
      updatedAt: applied && at && (!prev?.updatedAt || at > prev.updatedAt) ? at : (prev?.updatedAt ?? at),
      seenAt: now,
      openedAt: prev?.openedAt ?? now,
      pushedAt: pushed ? now : (prev?.pushedAt ?? null),
    });
    switch (e.action) {
      case 'opened':
      case 'reopened': {
        const created = await ensure(key, templates);
        await deps.instances.refreshLifetime(key, { push: true });
        return { result: 'ensured', owner: key, templates, created };
      }
      case 'closed':
        return { result: 'destroyed', owner: key, count: await deps.instances.destroyOwner(key) };
      case 'synchronize': {
        // A push brings back instances that expired for lack of pushes, and keeps the others alive.
        const count = deps.resetOnPush ? await deps.instances.resetOwner(key) : 0;
        const created = await ensure(key, templates);
        await deps.instances.refreshLifetime(key, { push: true });
        if (created) return { result: 'ensured', owner: key, templates, created };
        return deps.resetOnPush ? { result: 'reset', owner: key, count } : { result: 'seen', owner: key };
      }
      default:
        // Edited, labelled, reviewed…: the pull request is alive, which keeps its instances from expiring.
        if ((prev?.state ?? 'open') === 'open') await deps.instances.refreshLifetime(key);
        return { result: 'seen', owner: key };
    }
  }

  return {
    async handle(e) {
      if (!deps.repos[e.repo.toLowerCase()]) {
        log.debug({ repo: e.repo, pr: e.number, action: e.action }, 'pull request of an unconfigured repository ignored');
        return { result: 'ignored', owner: null, reason: 'unknown_repo' };
      }
      // A configured name whose GitHub id differs from the pinned one is refused (an AppError 403).
      const templates = await deps.gate.admit({ name: e.repo, repoId: e.repoId ?? null, ownerId: e.ownerId ?? null, private: e.private ?? null });
      const key = pullOwner(e.repo, e.number) as OwnerKey & { kind: 'pull' };
      const owner = formatOwner(key);
      // A fork's pull request may still be closed: destroying is always safe, creating is what the rule guards.
      if (e.action !== 'closed' && isFork(e) && !deps.allowForks) {
        // Remembered, so a token of the fork's workflow cannot get what the webhook was refused.
        const prev = await deps.pulls.getPullRequest(key.repo, key.number);
        const now = new Date(deps.clock.now());
        await deps.pulls.savePullRequest({
          repo: key.repo, number: key.number, headRepo: e.headRepo, fork: true, state: prev?.state ?? 'open',
          updatedAt: prev?.updatedAt ?? (e.updatedAt ? new Date(e.updatedAt) : null), seenAt: now, openedAt: prev?.openedAt ?? now,
          pushedAt: prev?.pushedAt ?? null,
        });
        log.info({ owner, headRepo: e.headRepo, action: e.action }, 'pull request from a fork ignored (forks not allowed)');
        return { result: 'ignored', owner: key, reason: 'fork' };
      }
      const outcome = await chains.run(owner, () => apply(e, key, templates));
      if (outcome.result === 'ignored' || outcome.result === 'seen') log.debug({ owner, action: e.action, result: outcome.result }, 'pull request event');
      else log.info({ ...outcome, owner, action: e.action }, 'pull request event handled');
      return outcome;
    },
  };
}
