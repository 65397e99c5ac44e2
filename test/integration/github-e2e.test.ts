// End to end on the real Docker engine: a pull request opens (GitHub's example payload, signed), an
// instance comes up, the sticky comment follows it, the bundled Action exports DB_URL and a real client
// queries Chinook through it, the pull request closes and everything is gone.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runActionStep } from '../helpers/action-runner.js';
import { addChinookDumps, importAndWait, leftovers, startTestController, wipe, type TestController } from '../helpers/controller.js';
import { startFakeGitHub, type FakeGitHub } from '../helpers/fake-github.js';
import { pullRequestClaims, pushClaims, startOidcIssuer, type TestOidcIssuer } from '../helpers/oidc-issuer.js';
import { POOLS, psql, requireDocker, requirePool, until } from '../helpers/testbed.js';
import { pullRequestPayload, webhookRequest } from '../helpers/webhook-fixtures.js';

const SECRET = `whsec-${randomUUID()}`;
const GH_TOKEN = `ghp_${randomUUID().replace(/-/g, '')}`;
const REPO = 'octo/app';
// The id the test issuer's OIDC tokens carry: the controller pins a repository's id on first sight.
const REPO_ID = 100001;
const examples: { name: string; examples: Record<string, unknown>[] }[] = createRequire(import.meta.url)('@octokit/webhooks-examples');
const pushEvent = examples.find((e) => e.name === 'push')!.examples[0];


describe('a database per pull request, end to end', () => {
  let t: TestController;
  let gh: FakeGitHub;
  let iss: TestOidcIssuer;
  let dir: string;
  const measured: Record<string, number> = {};

  const hook = (payload: unknown, delivery?: string) =>
    fetch(`${t.url}/api/v1/webhooks/github`, webhookRequest('pull_request', payload, { secret: SECRET, delivery }));
  const live = async (owner: string) => ((await t.api('GET', '/api/v1/instances')).body as any[]).filter((i) => i.owner === owner);
  const action = (eventName: string, event: unknown, inputs: Record<string, string> = {}, script: 'index' | 'post' = 'index', state?: Record<string, string>) =>
    runActionStep({
      script, dir, eventName, event, repository: REPO, state, env: iss.runnerEnv(),
      inputs: { 'controller-url': t.url, template: 'chinook', token: '', timeout: '60', reset: 'false', 'env-name': 'DB_URL', audience: 'myaas', ...inputs },
    });

  beforeAll(async () => {
    await requireDocker();
    requirePool(POOLS.btrfs, 'btrfs');
    gh = await startFakeGitHub({ tokens: [GH_TOKEN] });
    gh.seedPull(REPO, { number: 7 });
    iss = await startOidcIssuer({ audience: 'myaas' });
    t = await startTestController({
      dataDir: join(POOLS.btrfs, `it-github-${process.pid}`),
      env: {
        MYAAS_GITHUB_WEBHOOK_SECRET: SECRET, MYAAS_GITHUB_TOKEN: GH_TOKEN, MYAAS_GITHUB_API_URL: gh.url,
        MYAAS_GITHUB_REPOS: `${REPO}=chinook`, MYAAS_OIDC_ISSUER: iss.issuer, MYAAS_OIDC_AUDIENCE: 'myaas',
        MYAAS_GITHUB_SWEEP_INTERVAL: '3600',
      },
    });
    await addChinookDumps(t.dumpsDir);
    expect((await importAndWait(t, 'chinook')).status).toBe('ready');
    dir = await mkdtemp(join(tmpdir(), 'myaas-e2e-'));
  });
  afterAll(async () => {
    if (t) await wipe(t);
    await gh?.close();
    await iss?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    if (Object.keys(measured).length) console.log('measured (ms):', JSON.stringify(measured));
  });

  it('opened → ready instance and comment → Action exports DB_URL → closed → gone', async () => {
    const owner = 'gh:octo/app#7';
    const t0 = Date.now();
    const res = await hook(pullRequestPayload('opened', { repo: REPO, repoId: REPO_ID, number: 7 }));
    measured.webhookReplyMs = Date.now() - t0;
    expect(res.status).toBe(200);
    const inst = await until('the instance to be ready', async () => (await live(owner)).find((i) => i.status === 'ready'));
    const full = (await t.api('GET', `/api/v1/instances/${inst.id}`)).body;
    expect(await psql(full.connection.url, 'select count(*) from track')).toBe('3503');
    measured.openedToQueryMs = Date.now() - t0;

    const comment = await until('the ready comment', async () => gh.comments(REPO, 7).find((c) => c.body.includes('ready')));
    expect(gh.comments(REPO, 7)).toHaveLength(1);
    expect(comment.body).toContain(String(full.connection.port));
    expect(comment.body).not.toContain(full.connection.password);

    // In the pull request's workflow: OIDC token for refs/pull/7/merge → the same instance.
    iss.runnerClaims = pullRequestClaims(REPO, 7);
    const prEvent = pullRequestPayload('opened', { repo: REPO, repoId: REPO_ID, number: 7 });
    const step = await action('pull_request', prEvent);
    expect(step.code, step.stdout + step.stderr).toBe(0);
    measured.actionToDbUrlMs = step.ms;
    expect(step.outputs['instance-id']).toBe(inst.id);
    expect(step.outputs.created).toBe('false');
    expect(step.env.DB_URL).toBe(full.connection.url);
    expect(step.stdout).toContain(`::add-mask::${full.connection.password}`);
    expect(await psql(step.env.DB_URL, 'select count(*) from album')).toBe('347');

    // Another repository's token, and another pull request's token, cannot reach it.
    const evil = await iss.mint({ claims: pullRequestClaims('evil/app', 7) });
    expect((await t.api('GET', `/api/v1/instances/${inst.id}`, undefined, evil)).status).toBe(403);
    const other = await iss.mint({ claims: pullRequestClaims(REPO, 8) });
    expect((await t.api('GET', `/api/v1/instances/${inst.id}`, undefined, other)).status).toBe(404);
    const expired = await iss.mint({ claims: pullRequestClaims(REPO, 7), expiresIn: -600 });
    expect((await t.api('GET', `/api/v1/instances/${inst.id}`, undefined, expired)).status).toBe(401);

    // Redelivery and a second opened make no second instance.
    const delivery = randomUUID();
    expect((await hook(pullRequestPayload('reopened', { repo: REPO, repoId: REPO_ID, number: 7 }), delivery)).status).toBe(200);
    const dup = await hook(pullRequestPayload('reopened', { repo: REPO, repoId: REPO_ID, number: 7 }), delivery);
    expect(await dup.json()).toMatchObject({ duplicate: true });
    expect(await live(owner)).toHaveLength(1);

    expect((await hook(pullRequestPayload('closed', { repo: REPO, repoId: REPO_ID, number: 7, merged: true }))).status).toBe(200);
    await until('the destroy', async () => (await live(owner)).length === 0);
    await expect(psql(full.connection.url, 'select 1')).rejects.toThrow();
    await until('the destroyed comment', async () => gh.comments(REPO, 7)[0]?.body.includes('destroyed'));
    expect(gh.comments(REPO, 7)).toHaveLength(1);
    expect(await leftovers(t)).toEqual({ containers: [], clones: [], staging: [] });
    expect(gh.violations).toEqual([]);
  });

  it('ignores forks and unsigned deliveries', async () => {
    const fork = await hook(pullRequestPayload('opened', { repo: REPO, repoId: REPO_ID, number: 9, fork: true }));
    expect(fork.status).toBe(200);
    const unsigned = await fetch(`${t.url}/api/v1/webhooks/github`, webhookRequest('pull_request', pullRequestPayload('opened', { repo: REPO, repoId: REPO_ID, number: 10 }), { secret: null }));
    expect(unsigned.status).toBe(401);
    const forged = await fetch(`${t.url}/api/v1/webhooks/github`, webhookRequest('pull_request', pullRequestPayload('opened', { repo: REPO, repoId: REPO_ID, number: 10 }), { secret: 'wrong' }));
    expect(forged.status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(await live('gh:octo/app#9')).toEqual([]);
    expect(await live('gh:octo/app#10')).toEqual([]);
  });

  it('outside a pull request the run owns the instance and the post step destroys it', async () => {
    iss.runnerClaims = pushClaims(REPO, '5151', '1');
    const main = await action('push', pushEvent);
    expect(main.code, main.stdout + main.stderr).toBe(0);
    expect(await psql(main.env.DB_URL, 'select count(*) from genre')).toBe('25');
    const id = main.outputs['instance-id'];
    expect((await t.api('GET', `/api/v1/instances/${id}`)).body.owner).toBe('gh:octo/app@run-5151-1');
    const post = await action('push', pushEvent, {}, 'post', main.state);
    expect(post.code, post.stdout + post.stderr).toBe(0);
    await until('the run instance to be destroyed', async () => (await t.api('GET', `/api/v1/instances/${id}`)).body.status === 'destroyed');
    expect(await leftovers(t)).toEqual({ containers: [], clones: [], staging: [] });
  });
});
