// `myaas github-app create` end to end against the local GitHub stand-in: the test plays the
// browser (opens the local page, posts its form to GitHub's "new App" page, follows GitHub's
// redirect back), the flow trades the code on the API (checked against GitHub's OpenAPI
// description) and stores the credentials; then a controller configured from that file
// authenticates as the new App and accepts webhooks signed with its secret.
import { systemClock } from '../../controller/lib/clock.js';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../controller/config.js';
import { createManifestConverter } from '../../controller/github/app-manifest.js';
import { parseGitHubAppArgs, runGitHubAppCreate } from '../../controller/github/app-manifest-cli.js';
import { createAppConfigFile } from '../../controller/github/app-manifest-store.js';
import { createGitHubClient } from '../../controller/github/client.js';
import { createWebhookRoutes } from '../../controller/http/webhooks.js';
import { startFakeGitHub, type FakeGitHub } from '../helpers/fake-github.js';
import { createFakeInstancePort, createMemoryLogger, pingPayload, webhookRequest, pullRequestHandlerFor } from '../helpers/webhook-fixtures.js';

const CONTROLLER = 'https://myaas.example.com:5001';
let gh: FakeGitHub;
let tmp: string;

beforeAll(async () => {
  gh = await startFakeGitHub({ tokens: [] });
  tmp = await mkdtemp(join(tmpdir(), 'myaas-github-app-'));
});
afterAll(async () => {
  await gh?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});
afterEach(() => {
  expect(gh.violations).toEqual([]);
});

const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The browser's part up to GitHub's redirect: the local page's form, posted where it says. */
async function postForm(pageUrl: string): Promise<{ action: string; manifest: string; location: string }> {
  const page = await fetch(pageUrl);
  expect(page.status).toBe(200);
  const text = await page.text();
  const form = /<form method="post" action="([^"]+)">/.exec(text);
  const input = /<input type="hidden" name="manifest" value="([^"]*)">/.exec(text);
  if (!form || !input) throw new Error(`no manifest form on the page:\n${text}`);
  const action = unescape(form[1]);
  const manifest = unescape(input[1]);
  const res = await fetch(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Mozilla/5.0 (test browser)' },
    body: new URLSearchParams({ manifest }).toString(),
    redirect: 'manual',
  });
  expect(res.status).toBe(302);
  return { action, manifest, location: String(res.headers.get('location')) };
}

/** Starts the command as cli.ts does, with a browser page callback. */
function start(argv: string[]) {
  const log = createMemoryLogger();
  const printed: string[] = [];
  const args = parseGitHubAppArgs(['create', '--url', CONTROLLER, '--github-url', gh.url, ...argv], { dataDir: tmp, github: { apiUrl: gh.url } as never });
  if (!args) throw new Error('help?');
  const store = createAppConfigFile({ path: args.out, apiUrl: args.apiUrl, force: args.force, ownDir: args.defaultOut });
  let onPage!: (url: string) => void;
  const page = new Promise<string>((r) => (onPage = r));
  const run = runGitHubAppCreate(args, { converter: createManifestConverter({ apiUrl: args.apiUrl }, log), store, log, print: (l) => printed.push(l), onPage });
  run.catch(() => undefined); // awaited by each test; this only keeps an early failure from going unhandled
  return { args, log, printed, page, run };
}

describe('myaas github-app create', () => {
  let file: string;
  let appId: string;

  it('registers the App through the manifest flow and stores its credentials owner-only', async () => {
    file = join(tmp, 'fresh', 'dir', 'github-app.json');
    const before = gh.requests.length;
    const { page, run, printed, log } = start(['--out', file]);
    const pageUrl = await page;
    const { action, manifest, location } = await postForm(pageUrl);
    expect(action).toMatch(new RegExp(`^${gh.url}/settings/apps/new\\?state=[A-Za-z0-9_-]{43}$`));
    const callback = new URL(location);
    expect(`${callback.origin}/`).toBe(pageUrl);
    expect(callback.pathname).toBe('/callback');
    expect(callback.searchParams.get('state')).toBe(new URL(action).searchParams.get('state'));
    const back = await fetch(location);
    expect(back.status).toBe(200);
    expect(await back.text()).toContain('GitHub App created');
    const app = await run;

    const [made] = gh.manifestApps();
    appId = made.id;
    expect(String(app.id)).toBe(made.id);
    expect(JSON.parse(manifest)).toEqual({
      name: 'myaas-myaas-example-com',
      url: CONTROLLER,
      description: expect.stringContaining(CONTROLLER),
      hook_attributes: { url: `${CONTROLLER}/api/v1/webhooks/github`, active: true },
      redirect_url: `${callback.origin}/callback`,
      public: false,
      default_permissions: { pull_requests: 'read', issues: 'write', metadata: 'read' },
      default_events: ['pull_request', 'issue_comment'],
    });
    expect(gh.requests.slice(before).map((r) => `${r.op} ${r.status}`)).toEqual(['webNewApp 302', 'createFromManifest 201']);

    const stored = JSON.parse(await readFile(file, 'utf8'));
    expect(stored).toEqual({
      '//': expect.stringContaining(`id ${made.id}`),
      MYAAS_GITHUB_APP_ID: made.id,
      MYAAS_GITHUB_PRIVATE_KEY: made.pem,
      MYAAS_GITHUB_WEBHOOK_SECRET: made.webhookSecret,
      MYAAS_GITHUB_API_URL: gh.url,
    });
    expect(made.pem).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(tmp, 'fresh', 'dir'))).mode & 0o777).toBe(0o700);

    const said = printed.join('\n');
    expect(said).toContain(`${gh.url}/apps/${made.slug}/installations/new`);
    expect(said).toContain(`MYAAS_CONFIG=${file}`);
    for (const secret of [made.pem as string, made.webhookSecret as string, (made.pem as string).split('\n')[1]]) {
      expect(said).not.toContain(secret);
      expect(log.text()).not.toContain(secret);
    }
  });

  it('a controller configured from that file authenticates as the App and accepts its webhooks', async () => {
    gh.install(appId, ['octo/app']);
    gh.seedPull('octo/app', { number: 7 });
    const config = loadConfig({ MYAAS_CONFIG: file });
    const g = config.github;
    expect(g.appId).toBe(appId);
    expect(g.apiUrl).toBe(gh.url);
    // The same construction as main.ts.
    const client = createGitHubClient({ apiUrl: g.apiUrl, token: g.token, appId: g.appId, privateKey: g.privateKey, clock: systemClock() }, createMemoryLogger());
    expect((await client.listOpenPulls({ owner: 'octo', repo: 'app' })).map((p) => p.number)).toEqual([7]);
    await client.createComment({ owner: 'octo', repo: 'app', number: 7 }, 'hello from the new App');
    const slug = gh.manifestApps()[0].slug;
    expect(gh.comments('octo/app', 7).map((c) => c.user)).toEqual([`${slug}[bot]`]);
    const ops = gh.requests.map((r) => r.op);
    expect(ops).toContain('getRepoInstallation');
    expect(ops).toContain('createInstallationToken');

    const log = createMemoryLogger();
    const pullRequests = pullRequestHandlerFor({ instances: createFakeInstancePort(), repos: {}, allowForks: false, resetOnPush: false, log });
    const hooks = new Hono().route('/', createWebhookRoutes({ secret: g.webhookSecret, deliveries: { seen: async () => false, record: async () => {} }, pullRequests, log }));
    expect((await hooks.request('/', webhookRequest('ping', pingPayload(), { secret: gh.manifestApps()[0].webhookSecret as string }))).status).toBe(200);
    expect((await hooks.request('/', webhookRequest('ping', pingPayload(), { secret: 'not-the-apps-secret' }))).status).toBe(401);
  });

  it('refuses a redirect with another state and keeps waiting for the real one', async () => {
    const out = join(tmp, 'state', 'app.json');
    const { page, run } = start(['--out', out, '--org', 'acme', '--name', 'myaas for acme']);
    const { action, location } = await postForm(await page);
    expect(action).toContain(`${gh.url}/organizations/acme/settings/apps/new?state=`);
    const forged = new URL(location);
    forged.searchParams.set('state', 'x'.repeat(43));
    const conversionsBefore = gh.requests.filter((r) => r.op === 'createFromManifest').length;
    expect((await fetch(forged)).status).toBe(400);
    forged.searchParams.delete('state');
    expect((await fetch(forged)).status).toBe(400);
    // The refused redirects' code was never used (GitHub hands a code's credentials out once).
    expect(gh.requests.filter((r) => r.op === 'createFromManifest').length).toBe(conversionsBefore);
    await expect(stat(out)).rejects.toThrow(/ENOENT/);

    expect((await fetch(location)).status).toBe(200);
    const app = await run;
    expect(app.owner).toBe('acme');
    expect(app.name).toBe('myaas for acme');
    expect((await stat(out)).mode & 0o777).toBe(0o600);
  });

  it('fails clearly when GitHub refuses the code (used already), storing nothing', async () => {
    // A first registration whose redirect is kept, to replay its code into a second flow.
    const first = start(['--out', join(tmp, 'first', 'app.json')]);
    const { location } = await postForm(await first.page);
    expect((await fetch(location)).status).toBe(200);
    await first.run;
    const usedCode = new URL(location).searchParams.get('code') as string;

    const out = join(tmp, 'replay', 'app.json');
    const second = start(['--out', out]);
    const { action } = await postForm(await second.page);
    const callback = new URL('/callback', await second.page);
    callback.searchParams.set('code', usedCode);
    callback.searchParams.set('state', new URL(action).searchParams.get('state') as string);
    const res = await fetch(callback);
    expect(res.status).toBe(502);
    expect(await res.text()).toContain('used already');
    await expect(second.run).rejects.toThrow(/used already or is more than an hour old/);
    await expect(stat(out)).rejects.toThrow(/ENOENT/);
  });

  it('will not overwrite an existing file without --force, and checks that before GitHub is asked anything', async () => {
    const out = join(tmp, 'existing.json');
    await writeFile(out, '{"MYAAS_GITHUB_APP_ID":"1"}', { mode: 0o600 });
    const before = gh.requests.length;
    const { run } = start(['--out', out]);
    await expect(run).rejects.toThrow(/exists .*--force/);
    expect(gh.requests.length).toBe(before);
    expect(await readFile(out, 'utf8')).toBe('{"MYAAS_GITHUB_APP_ID":"1"}');

    const forced = start(['--out', out, '--force']);
    const { location } = await postForm(await forced.page);
    await fetch(location);
    const app = await forced.run;
    expect(JSON.parse(await readFile(out, 'utf8')).MYAAS_GITHUB_APP_ID).toBe(String(app.id));
    expect((await stat(out)).mode & 0o777).toBe(0o600);
  });
});
