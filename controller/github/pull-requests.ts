// What a pull request event means for its instances. Webhooks and the sweep both come through here,
// so the fork rule, the repo list and the ordering guard live in one place.
import { AppError, messageOf } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import { formatOwner, pullOwner, type OwnerKey } from '../domain/owner.js';
import { createKeyedQueue } from '../lib/keyed-queue.js';
import type { InstanceService } from '../app/ports.js';

/** A pull request event, reduced to what decides its instances. */
export interface PullRequestEvent {
  /** opened, reopened, closed, synchronize, … (others are ignored) */
  action: string;
  number: number;
  /** base repository `owner/repo` */
  repo: string;
  /** head repository `owner/repo`; null when the fork was deleted */
  headRepo: string | null;
  /** the pull request's updated_at at the time of the event; orders events that arrive out of order */
  updatedAt: string | null;
}

export type PullRequestOutcome =
  | { result: 'ensured'; owner: OwnerKey; templates: string[]; created: number }
  | { result: 'destroyed'; owner: OwnerKey; count: number }
  | { result: 'reset'; owner: OwnerKey; count: number }
  | { result: 'ignored'; owner: OwnerKey | null; reason: 'unknown_repo' | 'fork' | 'action' | 'stale' };

export interface PullRequestHandler {
  handle(event: PullRequestEvent): Promise<PullRequestOutcome>;
}

export interface PullRequestHandlerDeps {
  instances: Pick<InstanceService, 'create' | 'destroyOwner' | 'resetOwner'>;
  /** `owner/repo` (lowercase) → templates each of its pull requests gets */
  repos: Record<string, string[]>;
  allowForks: boolean;
  resetOnPush: boolean;
  log: Logger;
  /** how many pull requests' last event to remember for the ordering guard */
  memory?: number;
}

export function isFork(e: Pick<PullRequestEvent, 'repo' | 'headRepo'>): boolean {
  return e.headRepo === null || e.headRepo.toLowerCase() !== e.repo.toLowerCase();
}

/** The webhook payload's `pull_request` event, reduced. */
export function fromWebhookPayload(p: {
  action: string;
  number: number;
  repository: { full_name: string };
  pull_request: { updated_at?: string | null; head: { repo: { full_name: string } | null } };
}): PullRequestEvent {
  return {
    action: p.action,
    number: p.number,
    repo: p.repository.full_name,
    headRepo: p.pull_request.head.repo?.full_name ?? null,
    updatedAt: p.pull_request.updated_at ?? null,
  };
}

type Kind = 'open' | 'close';

export function createPullRequestHandler(deps: PullRequestHandlerDeps): PullRequestHandler {
  const log = deps.log.child({ component: 'pull-requests' });
  const memory = deps.memory ?? 10_000;
  // Per pull request: its events one after another, so a close waits for an open that is still creating.
  const chains = createKeyedQueue();
  // Per pull request: the newest open/close applied, to drop events GitHub delivered out of order.
  const last = new Map<string, { kind: Kind; at: number }>();

  /** Stale when a newer event of the other kind was applied; a tie goes to close so a PR never leaks. */
  function stale(owner: string, kind: Kind, at: number | null): boolean {
    const prev = last.get(owner);
    if (!prev || at === null || prev.kind === kind) return false;
    return kind === 'open' ? at <= prev.at : at < prev.at;
  }

  function remember(owner: string, kind: Kind, at: number | null): void {
    const prev = last.get(owner);
    if (at === null || (prev && prev.at > at)) return;
    last.delete(owner);
    last.set(owner, { kind, at });
    if (last.size > memory) last.delete(last.keys().next().value as string);
  }

  async function apply(e: PullRequestEvent, key: OwnerKey, templates: string[]): Promise<PullRequestOutcome> {
    const owner = formatOwner(key);
    const at = e.updatedAt ? Date.parse(e.updatedAt) : null;
    const when = at !== null && Number.isFinite(at) ? at : null;
    switch (e.action) {
      case 'opened':
      case 'reopened': {
        if (stale(owner, 'open', when)) return { result: 'ignored', owner: key, reason: 'stale' };
        remember(owner, 'open', when);
        let created = 0;
        const failures: string[] = [];
        // Every template gets its chance even when one fails, so one bad template cannot starve the rest.
        for (const template of templates) {
          try {
            if ((await deps.instances.create({ owner: key, template })).created) created++;
          } catch (err) {
            failures.push(`${template}: ${messageOf(err)}`);
          }
        }
        if (failures.length) throw new AppError('internal', `could not create instances for ${owner}: ${failures.join('; ')}`);
        return { result: 'ensured', owner: key, templates, created };
      }
      case 'closed': {
        if (stale(owner, 'close', when)) return { result: 'ignored', owner: key, reason: 'stale' };
        remember(owner, 'close', when);
        return { result: 'destroyed', owner: key, count: await deps.instances.destroyOwner(key) };
      }
      case 'synchronize': {
        if (!deps.resetOnPush) return { result: 'ignored', owner: key, reason: 'action' };
        if (stale(owner, 'open', when)) return { result: 'ignored', owner: key, reason: 'stale' };
        return { result: 'reset', owner: key, count: await deps.instances.resetOwner(key) };
      }
      default:
        return { result: 'ignored', owner: key, reason: 'action' };
    }
  }

  return {
    async handle(e) {
      const templates = deps.repos[e.repo.toLowerCase()];
      if (!templates) {
        log.debug({ repo: e.repo, pr: e.number, action: e.action }, 'pull request of an unconfigured repository ignored');
        return { result: 'ignored', owner: null, reason: 'unknown_repo' };
      }
      const key = pullOwner(e.repo, e.number);
      const owner = formatOwner(key);
      // A fork's pull request may still be closed: destroying is always safe, creating is what the rule guards.
      if (e.action !== 'closed' && isFork(e) && !deps.allowForks) {
        log.info({ owner, headRepo: e.headRepo, action: e.action }, 'pull request from a fork ignored (forks not allowed)');
        return { result: 'ignored', owner: key, reason: 'fork' };
      }
      const outcome = await chains.run(owner, () => apply(e, key, templates));
      if (outcome.result === 'ignored') log.debug({ owner, action: e.action, reason: outcome.reason }, 'pull request event ignored');
      else log.info({ ...outcome, owner, action: e.action }, 'pull request event handled');
      return outcome;
    },
  };
}
