// A lost webhook must neither leak an instance nor starve a pull request: compare open pull requests
// with live instances now and then, and converge through the same handler the webhooks use.
import { messageOf } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import { formatOwner, parseOwner } from '../domain/owner.js';
import type { InstanceService } from '../app/ports.js';
import type { GitHubClient } from './client.js';
import type { PullRequestHandler } from './pull-requests.js';

export interface PullRequestSweepDeps {
  client: Pick<GitHubClient, 'listOpenPulls'>;
  instances: Pick<InstanceService, 'pullRequestViews'>;
  /** the webhook handler: it applies the fork rule and orders against webhooks in flight */
  pullRequests: PullRequestHandler;
  /** `owner/repo` (lowercase) → templates */
  repos: Record<string, string[]>;
  log: Logger;
  now?: () => Date;
  /** pull requests that get their first instances per pass, per repository (the rest in later passes) */
  batch?: number;
}

export interface SweepSummary {
  repos: number;
  /** repositories whose open pull requests could not be listed (left untouched) */
  failedRepos: string[];
  ensured: number;
  destroyed: number;
  errors: number;
}

export interface PullRequestSweep {
  /** One pass over every configured repository. Never rejects; overlapping calls share one pass. */
  runOnce(): Promise<SweepSummary>;
}

export function createPullRequestSweep(deps: PullRequestSweepDeps): PullRequestSweep {
  const log = deps.log.child({ component: 'pr-sweep' });
  const now = deps.now ?? (() => new Date());
  let running: Promise<SweepSummary> | null = null;

  async function sweepRepo(fullName: string, sum: SweepSummary): Promise<void> {
    const [owner, repo] = fullName.split('/');
    // Instances first, pulls second: an instance a webhook creates after this listing is not judged
    // against an older list of pulls that cannot contain its pull request yet.
    let live;
    let open;
    try {
      live = await deps.instances.pullRequestViews(fullName);
      open = await deps.client.listOpenPulls({ owner, repo });
    } catch (e) {
      // Without the list, every instance would look orphaned: do nothing rather than destroy.
      sum.failedRepos.push(fullName);
      log.warn({ repo: fullName, err: messageOf(e) }, 'sweep skipped a repository');
      return;
    }
    const listedAt = now().toISOString();
    const openNumbers = new Set(open.map((p) => p.number));

    // Oldest pull requests first, and only so many new ones per pass: a repository with hundreds of
    // open pull requests (or a first sweep) does not start hundreds of servers at once.
    const served = new Set(live.map((v) => parseOwner(v.instance.owner)).flatMap((k) => (k?.kind === 'pull' ? [k.number] : [])));
    let fresh = 0;
    for (const p of [...open].sort((a, b) => a.number - b.number)) {
      if (!served.has(p.number) && fresh >= (deps.batch ?? 20)) continue;
      if (!served.has(p.number)) fresh++;
      try {
        const out = await deps.pullRequests.handle({
          action: 'opened',
          number: p.number,
          repo: p.repo,
          headRepo: p.headRepo,
          updatedAt: p.updatedAt,
        });
        if (out.result === 'ensured' && out.created > 0) {
          sum.ensured += out.created;
          log.info({ owner: formatOwner(out.owner), created: out.created }, 'sweep created missing instances');
        }
      } catch (e) {
        sum.errors++;
        log.warn({ repo: fullName, pr: p.number, err: messageOf(e) }, 'sweep could not ensure instances');
      }
    }

    const orphaned = new Set<number>();
    for (const v of live) {
      const k = parseOwner(v.instance.owner);
      if (k?.kind === 'pull' && k.repo === fullName && !openNumbers.has(k.number)) orphaned.add(k.number);
    }
    for (const number of orphaned) {
      try {
        // Dated at listing time, so a reopen that GitHub reports after our listing still wins.
        const out = await deps.pullRequests.handle({
          action: 'closed',
          number,
          repo: fullName,
          headRepo: fullName,
          updatedAt: listedAt,
        });
        if (out.result === 'destroyed') {
          sum.destroyed += out.count;
          log.info({ owner: formatOwner(out.owner), count: out.count }, 'sweep destroyed instances of a closed pull request');
        }
      } catch (e) {
        sum.errors++;
        log.warn({ repo: fullName, pr: number, err: messageOf(e) }, 'sweep could not destroy instances');
      }
    }
  }

  async function pass(): Promise<SweepSummary> {
    const sum: SweepSummary = { repos: 0, failedRepos: [], ensured: 0, destroyed: 0, errors: 0 };
    for (const fullName of Object.keys(deps.repos)) {
      sum.repos++;
      try {
        await sweepRepo(fullName.toLowerCase(), sum);
      } catch (e) {
        sum.errors++;
        log.warn({ repo: fullName, err: messageOf(e) }, 'sweep of a repository failed');
      }
    }
    log.debug({ ...sum }, 'pull request sweep done');
    return sum;
  }

  return {
    runOnce() {
      running ??= pass().finally(() => {
        running = null;
      });
      return running;
    },
  };
}
