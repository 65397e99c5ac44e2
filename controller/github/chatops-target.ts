// What ChatOps commands do, over the instance service and the pull-request handler: the same rules
// (configured repositories, forks, ordering) as webhooks.
import { AppError } from '../domain/errors.js';
import type { OwnerKey } from '../domain/owner.js';
import type { Clock, GitHubStore, InstanceService } from '../app/ports.js';
import type { ChatOpsTarget } from './chatops-handler.js';
import type { PullRequestHandler } from './pull-requests.js';

export interface ChatOpsTargetDeps {
  instances: Pick<InstanceService, 'list' | 'destroy' | 'waitSettled' | 'resetOwner' | 'extendOwner' | 'protectOwner'>;
  pullRequests: PullRequestHandler;
  pulls: Pick<GitHubStore, 'getPullRequest'>;
  repos: Record<string, string[]>;
  clock: Clock;
}

/** How long a recreate waits for the old instances to be gone before making new ones. */
const DESTROY_WAIT_MS = 120_000;

export function createChatOpsTarget(deps: ChatOpsTargetDeps): ChatOpsTarget {
  return {
    reset: (owner) => deps.instances.resetOwner(owner),
    extend: (owner, seconds) => deps.instances.extendOwner(owner, seconds),
    protect: (owner, on) => deps.instances.protectOwner(owner, on),
    async recreate(owner: OwnerKey) {
      if (owner.kind !== 'pull' || !deps.repos[owner.repo]) return 0;
      const pr = await deps.pulls.getPullRequest(owner.repo, owner.number);
      if (pr?.state === 'closed') throw new AppError('conflict', 'the pull request is closed: reopen it to get databases');
      for (const i of await deps.instances.list({ owner })) {
        await deps.instances.destroy(i.id);
        const gone = await deps.instances.waitSettled(i.id, DESTROY_WAIT_MS);
        if (gone.status !== 'destroyed') throw new AppError('timeout', `instance ${i.name} is still being destroyed; try again in a minute`);
      }
      // As if it had just been reopened: the handler applies the fork rule and records the sighting.
      const out = await deps.pullRequests.handle({
        action: 'reopened', number: owner.number, repo: owner.repo, headRepo: pr?.headRepo ?? owner.repo,
        updatedAt: new Date(deps.clock.now()).toISOString(),
      });
      if (out.result === 'ignored' && out.reason === 'fork') throw new AppError('forbidden', 'this pull request comes from a fork, and this controller gives forks no databases');
      return out.result === 'ensured' ? out.templates.length : 0;
    },
  };
}
