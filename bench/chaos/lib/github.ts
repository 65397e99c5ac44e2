// GitHub as the campaign plays it: pull requests opened, pushed, closed and reopened, each event a
// signed delivery of GitHub's own example payload (test/helpers/webhook-fixtures.ts). Deliveries are
// sent out of order and twice, and one that got no answer (the controller was killed) is redelivered
// with the same delivery id, as GitHub's "Redeliver" does, until it is acknowledged.
import { createHash, randomUUID } from 'node:crypto';
import { pullRequestPayload, signBody, type PullRequestAction } from '../../../test/helpers/webhook-fixtures.js';
import type { Rng } from './rng.js';

export interface PullRequest {
  repo: string;
  number: number;
  /** as of the newest open/close event made (deliveries may still be on their way) */
  open: boolean;
  /** events made for it */
  events: number;
}

export interface Delivery {
  id: string;
  action: PullRequestAction;
  repo: string;
  number: number;
  body: string;
  /** times sent */
  sent: number;
  acknowledged: boolean;
}

export interface DeliveryStats {
  made: number;
  sent: number;
  acknowledged: number;
  duplicatesAcknowledged: number;
  redelivered: number;
  /** 4xx/5xx answers other than the controller being unreachable */
  refused: number;
}

/** A stable numeric id per name, as GitHub's repository ids are. */
const idOf = (s: string) => createHash('sha256').update(s).digest().readUInt32BE(0);

export function createGitHub(opts: { url: () => string; secret: string; repos: Record<string, string[]>; rng: Rng }) {
  const prs = new Map<string, PullRequest>();
  const undelivered: Delivery[] = [];
  const stats: DeliveryStats = { made: 0, sent: 0, acknowledged: 0, duplicatesAcknowledged: 0, redelivered: 0, refused: 0 };
  const refusals: string[] = [];
  // A sample of acknowledged deliveries, for redelivery long after (bounded: a soak makes thousands).
  const done: Delivery[] = [];
  const remember = (d: Delivery) => {
    if (done.length < 500) done.push(d);
    else done[opts.rng.int(0, 499)] = d;
  };
  // GitHub's updated_at: strictly increasing over the events made, so "newest" is well defined.
  let tick = Date.parse('2026-01-01T00:00:00Z');

  function event(repo: string, number: number, action: PullRequestAction): Delivery {
    const key = `${repo}#${number}`;
    const pr = prs.get(key) ?? { repo, number, open: false, events: 0 };
    prs.set(key, pr);
    tick += 1000;
    const p = pullRequestPayload(action, { repo, number, updatedAt: new Date(tick).toISOString() });
    p.repository.id = idOf(repo);
    p.pull_request.base.repo.id = idOf(repo);
    p.pull_request.head.repo.id = idOf(repo);
    p.pull_request.id = idOf(key);
    p.pull_request.state = action === 'closed' ? 'closed' : 'open';
    if (action === 'opened' || action === 'reopened') pr.open = true;
    if (action === 'closed') pr.open = false;
    pr.events++;
    const d: Delivery = { id: randomUUID(), action, repo, number, body: JSON.stringify(p), sent: 0, acknowledged: false };
    stats.made++;
    undelivered.push(d);
    return d;
  }

  /** Sends once; true when acknowledged (2xx, a duplicate included). */
  async function send(d: Delivery): Promise<boolean> {
    if (d.sent > 0 && !d.acknowledged) stats.redelivered++;
    d.sent++;
    stats.sent++;
    let res: Response;
    try {
      res = await fetch(`${opts.url()}/api/v1/webhooks/github`, {
        method: 'POST',
        body: d.body,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'GitHub-Hookshot/chaos',
          'x-github-event': 'pull_request',
          'x-github-delivery': d.id,
          'x-github-hook-id': '1',
          'x-hub-signature-256': signBody(opts.secret, d.body),
        },
        signal: AbortSignal.timeout(30_000),
      });
    } catch {
      return false; // unreachable or killed while answering: redelivered later
    }
    const text = await res.text().catch(() => '');
    if (res.status >= 200 && res.status < 300) {
      if (d.acknowledged) stats.duplicatesAcknowledged++;
      else stats.acknowledged++;
      d.acknowledged = true;
      return true;
    }
    // A 5xx means the controller forgot the delivery so that it may be redelivered; anything else is a finding.
    stats.refused++;
    if (res.status < 500) refusals.push(`${d.action} ${d.repo}#${d.number}: ${res.status} ${text.slice(0, 200)}`);
    return false;
  }

  return {
    prs,
    stats,
    refusals,
    event,
    /**
     * Sends every delivery not yet acknowledged, in a shuffled order and partly at once (so they
     * arrive out of order), some of them twice.
     */
    async flush(o: { duplicateChance: number; concurrency: number; holdBackChance?: number }): Promise<void> {
      // Some are held back for a later flush: they arrive after newer events of their pull request.
      const batch = opts.rng.shuffle(undelivered.filter((d) => !d.acknowledged && !opts.rng.chance(o.holdBackChance ?? 0)));
      const dupes = batch.filter(() => opts.rng.chance(o.duplicateChance));
      const queue = [...batch, ...dupes];
      const workers = Array.from({ length: Math.max(1, o.concurrency) }, async () => {
        for (let d = queue.shift(); d; d = queue.shift()) await send(d);
      });
      await Promise.all(workers);
      for (let i = undelivered.length - 1; i >= 0; i--) {
        if (!undelivered[i].acknowledged) continue;
        remember(undelivered[i]);
        undelivered.splice(i, 1);
      }
    },
    /** GitHub's "Redeliver" of `n` deliveries acknowledged long ago: each must be a no-op. */
    async redeliverOld(n: number): Promise<void> {
      const old = [...done];
      for (let k = 0; k < n && old.length; k++) await send(opts.rng.pick(old));
    },
    pending: () => undelivered.filter((d) => !d.acknowledged).length,
    /** owner key and templates each pull request should have instances for, given its newest event */
    wanted(): Array<{ owner: string; template: string; present: boolean }> {
      const out: Array<{ owner: string; template: string; present: boolean }> = [];
      for (const pr of prs.values()) {
        for (const template of opts.repos[pr.repo] ?? []) out.push({ owner: `gh:${pr.repo.toLowerCase()}#${pr.number}`, template, present: pr.open });
      }
      return out;
    },
  };
}

export type GitHubSim = ReturnType<typeof createGitHub>;
