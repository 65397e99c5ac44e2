// What the controller remembers of GitHub, as records: pull requests (to order their events across
// restarts, know forks, and date their last sighting) and repositories (their ids, pinned on first sight).

export interface PullRequestRecord {
  /** base repository, `owner/repo` lowercased */
  repo: string;
  number: number;
  /** head repository `owner/repo`; null when the fork was deleted */
  headRepo: string | null;
  fork: boolean;
  /** as of the newest open/close event applied */
  state: 'open' | 'closed';
  /** GitHub's updated_at of that event: an older event arriving later is stale */
  updatedAt: Date | null;
  /** when an event or the resync last saw it */
  seenAt: Date;
  /** when it was first seen open */
  openedAt: Date;
  /** the last push (opened, reopened, synchronize) */
  pushedAt: Date | null;
}

export interface RepositoryRecord {
  /** `owner/repo` lowercased */
  name: string;
  repoId: number;
  ownerId: number | null;
  private: boolean | null;
  firstSeen: Date;
  lastSeen: Date;
}

/** A repository as an event or a token describes it. */
export interface RepositoryIdentity {
  name: string;
  repoId: number | null;
  ownerId: number | null;
  private?: boolean | null;
}
