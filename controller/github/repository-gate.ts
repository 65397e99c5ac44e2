// Which repositories may use this controller, and that they are the ones they claim to be. A name is
// configured (MYAAS_GITHUB_REPOS); its GitHub ids are pinned in configuration (`owner/repo@id=…`) or on
// first sight, so a repository deleted and re-created under the same name, or another one renamed to
// it, does not inherit its instances. Tokens and webhook events both pass here.
import { AppError } from '../domain/errors.js';
import type { RepositoryIdentity } from '../domain/github.js';
import type { OwnerKey } from '../domain/owner.js';
import type { Clock, GitHubStore, Logger } from '../app/ports.js';

export interface RepositoryGateDeps {
  /** `owner/repo` (lowercase) → its templates */
  repos: Record<string, string[]>;
  /** repository ids pinned in configuration */
  pins: Record<string, number>;
  allowForks: boolean;
  store: Pick<GitHubStore, 'getRepository' | 'pinRepository' | 'touchRepository' | 'getPullRequest' | 'forgetRepository'>;
  clock: Clock;
  log: Logger;
}

export interface RepositoryGate {
  /** The repository's templates, after checking it is configured and is the repository pinned under its name. */
  admit(r: RepositoryIdentity): Promise<string[]>;
  /** For a token acting on a pull request: refuses a pull request known to come from a fork when forks are not allowed. */
  admitPullRequest(owner: OwnerKey): Promise<void>;
  /** Whether the repository is private, as last seen (null when unknown). */
  isPrivate(repo: string): Promise<boolean | null>;
  /** Forgets the pinned ids of a repository (an admin's decision); false when none was pinned. */
  forget(repo: string): Promise<boolean>;
}

const when = (d: Date) => d.toISOString().slice(0, 10);

export function createRepositoryGate(deps: RepositoryGateDeps): RepositoryGate {
  const log = deps.log.child({ component: 'repository-gate' });

  function mismatch(name: string, seen: number, pinned: number, since: string): AppError {
    return new AppError(
      'forbidden',
      `repository ${name} has GitHub id ${seen}, but this controller knows ${name} as id ${pinned} (${since}): it was deleted and ` +
        `re-created, or another repository was renamed to it, so it does not inherit that one's instances. If this is the ` +
        `repository you mean, an admin forgets the pin (DELETE /api/v1/repositories/${name}/pin) or sets MYAAS_GITHUB_REPOS=${name}@${seen}=…`,
    );
  }

  return {
    async admit(r) {
      const name = r.name.toLowerCase();
      const templates = deps.repos[name];
      if (!templates) throw new AppError('forbidden', `repository ${name} is not configured on this controller (MYAAS_GITHUB_REPOS)`);
      const configured = deps.pins[name];
      if (configured !== undefined) {
        if (r.repoId !== null && r.repoId !== configured) throw mismatch(name, r.repoId, configured, 'pinned in MYAAS_GITHUB_REPOS');
        return templates;
      }
      if (r.repoId === null) return templates; // nothing to check it against; nothing pinned from it either
      const now = new Date(deps.clock.now());
      const held = await deps.store.pinRepository({
        name, repoId: r.repoId, ownerId: r.ownerId, private: r.private ?? null, firstSeen: now, lastSeen: now,
      });
      // The repository id decides: a name re-used by a new repository (or a rename onto it) has another one.
      if (held.repoId !== r.repoId) {
        log.warn({ repo: name, seen: r.repoId, pinned: held.repoId }, 'refused a repository whose id differs from the pinned one');
        throw mismatch(name, r.repoId, held.repoId, `first seen ${when(held.firstSeen)}`);
      }
      // At most hourly, or when its visibility changed: a write per request would cost every request.
      const changed = r.private !== undefined && r.private !== null && r.private !== held.private;
      if (changed || now.getTime() - held.lastSeen.getTime() > 3600_000) {
        await deps.store.touchRepository(name, { lastSeen: now, ...(changed ? { private: r.private as boolean } : {}) });
      }
      return templates;
    },
    async admitPullRequest(owner) {
      if (owner.kind !== 'pull' || deps.allowForks) return;
      const pr = await deps.store.getPullRequest(owner.repo, owner.number);
      if (pr?.fork) {
        throw new AppError(
          'forbidden',
          `pull request ${owner.repo}#${owner.number} comes from a fork (${pr.headRepo ?? 'a deleted repository'}), and this controller gives forks no databases (MYAAS_GITHUB_ALLOW_FORKS)`,
        );
      }
    },
    async forget(repo) {
      const ok = await deps.store.forgetRepository(repo.toLowerCase());
      if (ok) log.warn({ repo }, 'forgot the pinned ids of a repository: the next sight pins it anew');
      return ok;
    },
    async isPrivate(repo) {
      return (await deps.store.getRepository(repo.toLowerCase()))?.private ?? null;
    },
  };
}

