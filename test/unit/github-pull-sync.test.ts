import { describe, expect, it } from 'vitest';
import type { OpenPull } from '../../controller/github/client.js';
import { createPullRequestSweep } from '../../controller/github/pull-sync.js';
import { createFakeInstancePort, createMemoryLogger, pullRequestHandlerFor } from '../helpers/webhook-fixtures.js';

const REPO = 'octo/app';

function setup(o: { allowForks?: boolean; pulls?: Record<string, OpenPull[] | Error> } = {}) {
  const instances = createFakeInstancePort();
  const log = createMemoryLogger();
  const repos = { 'octo/app': ['chinook'], 'octo/other': ['sakila'] };
  const pulls: Record<string, OpenPull[] | Error> = o.pulls ?? {};
  const listed: string[] = [];
  const hooks: { duringList?: () => Promise<void> } = {};
  const client = {
    async listOpenPulls({ owner, repo }: { owner: string; repo: string }) {
      listed.push(`${owner}/${repo}`);
      await hooks.duringList?.();
      const p = pulls[`${owner}/${repo}`] ?? [];
      if (p instanceof Error) throw p;
      return p;
    },
  };
  const pullRequests = pullRequestHandlerFor({ instances, repos, allowForks: o.allowForks ?? false, resetOnPush: false, log });
  const sweep = createPullRequestSweep({ client, instances, pullRequests, repos, log });
  return { instances, log, pulls, listed, sweep, pullRequests, hooks };
}

const pull = (number: number, over: Partial<OpenPull> = {}): OpenPull => ({
  number,
  repo: 'Octo/App',
  headRepo: 'Octo/App',
  updatedAt: '2024-01-01T10:00:00Z',
  ...over,
});

describe('pull request sweep', () => {
  it('creates missing instances for open pull requests and destroys those of closed ones', async () => {
    const { instances, sweep, pulls } = setup();
    await instances.ensure({ owner: 'gh:octo/app#1', template: 'chinook' }); // still open
    await instances.ensure({ owner: 'gh:octo/app#2', template: 'chinook' }); // closed while we were down
    pulls[REPO] = [pull(1), pull(3)];
    const sum = await sweep.runOnce();
    expect(sum).toEqual({ repos: 2, failedRepos: [], ensured: 1, destroyed: 1, errors: 0 });
    expect(instances.live().map((v) => v.owner).sort()).toEqual(['gh:octo/app#1', 'gh:octo/app#3']);
  });

  it('is idempotent: a second pass changes nothing', async () => {
    const { instances, sweep, pulls } = setup();
    pulls[REPO] = [pull(1)];
    await sweep.runOnce();
    const second = await sweep.runOnce();
    expect(second.ensured + second.destroyed).toBe(0);
    expect(instances.live()).toHaveLength(1);
  });

  it('applies the fork rule', async () => {
    const strict = setup({ pulls: { [REPO]: [pull(4, { headRepo: 'forker/app' }), pull(5, { headRepo: null })] } });
    await strict.sweep.runOnce();
    expect(strict.instances.live()).toEqual([]);

    const open = setup({ allowForks: true, pulls: { [REPO]: [pull(4, { headRepo: 'forker/app' })] } });
    await open.sweep.runOnce();
    expect(open.instances.live().map((v) => v.owner)).toEqual(['gh:octo/app#4']);
  });

  it('destroys nothing when a repository’s pull requests cannot be listed', async () => {
    const { instances, sweep, log } = setup({ pulls: { [REPO]: new Error('GitHub API list open pulls failed: Bad Gateway') } });
    await instances.ensure({ owner: 'gh:octo/app#1', template: 'chinook' });
    const sum = await sweep.runOnce();
    expect(sum.failedRepos).toEqual([REPO]);
    expect(instances.live()).toHaveLength(1);
    expect(log.lines.some((l) => l.level === 'warn')).toBe(true);
  });

  it('leaves other owners alone: runs, API instances, unconfigured repositories', async () => {
    const { instances, sweep } = setup();
    await instances.ensure({ owner: 'gh:octo/app@run-77', template: 'chinook' });
    await instances.ensure({ owner: 'api:alice', template: 'chinook' });
    await instances.ensure({ owner: 'gh:someone/else#1', template: 'chinook' });
    await instances.ensure({ owner: 'gh:octo/app-two#1', template: 'chinook' });
    await sweep.runOnce();
    expect(instances.live()).toHaveLength(4);
  });

  it('does not bring back a pull request a newer webhook closed after the listing was taken', async () => {
    const { instances, sweep, pulls, pullRequests } = setup();
    pulls[REPO] = [pull(1, { updatedAt: '2024-01-01T10:00:00Z' })];
    await pullRequests.handle({ action: 'closed', number: 1, repo: REPO, headRepo: REPO, updatedAt: '2024-01-01T10:05:00Z' });
    await sweep.runOnce();
    expect(instances.live()).toEqual([]);
  });

  it('does not destroy an instance a webhook created while the pull requests were being listed', async () => {
    const { instances, sweep, pulls, hooks } = setup();
    pulls[REPO] = [];
    hooks.duringList = async () => {
      await instances.ensure({ owner: 'gh:octo/app#9', template: 'chinook' });
    };
    await sweep.runOnce();
    expect(instances.live().map((v) => v.owner)).toEqual(['gh:octo/app#9']);
  });

  it('shares one pass between overlapping calls', async () => {
    const { sweep, listed } = setup();
    const [a, b] = await Promise.all([sweep.runOnce(), sweep.runOnce()]);
    expect(a).toBe(b);
    expect(listed).toEqual(['octo/app', 'octo/other']);
  });
});

describe('pull request sweep at scale', () => {
  it('creates the instances of a few pull requests per pass, oldest first', async () => {
    const pulls = { 'octo/app': Array.from({ length: 50 }, (_, i) => pull(50 - i)) };
    const { instances, sweep } = setup({ pulls });
    await sweep.runOnce();
    expect(instances.live().map((i) => Number(i.owner.split('#')[1])).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await sweep.runOnce();
    await sweep.runOnce();
    expect(instances.live()).toHaveLength(50);
  });
});
