// The local half of the manifest flow: a listener on this machine that serves the page posting the
// manifest to GitHub (steps 1) and receives GitHub's redirect (step 2), checks its `state`, trades
// the code for the App's credentials and stores them. A redirect with another state is refused and
// the flow keeps waiting: it was not started here (or is a forgery), so its code is never used.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { html } from 'hono/html';
import { isAppError, messageOf } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import { buildManifest, installUrl, newAppUrl, type CreatedApp, type ManifestConverter } from './app-manifest.js';
import type { AppConfigFile } from './app-manifest-store.js';

export interface ManifestFlowOptions {
  controllerUrl: string;
  githubUrl: string;
  org: string | null;
  name: string;
  converter: ManifestConverter;
  store: AppConfigFile;
  log: Logger;
  /** address to listen on (default 127.0.0.1; the browser must reach it, GitHub never does) */
  host?: string;
  /** port to listen on (default: any free one); fix it to forward it over SSH */
  port?: number;
  /** how long to wait for GitHub's redirect (default an hour, as long as GitHub's code lives) */
  timeoutMs?: number;
}

export interface ManifestFlow {
  /** the page to open in a browser */
  pageUrl: string;
  /** the App, once its credentials are stored */
  done: Promise<CreatedApp>;
  close(): Promise<void>;
}

const page = (title: string, body: unknown) => html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em}code{background:#eee;padding:0 .2em}</style>
</head><body><h1>${title}</h1>${body}</body></html>`;

const sameSecret = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export async function startManifestFlow(o: ManifestFlowOptions): Promise<ManifestFlow> {
  const log = o.log.child({ component: 'github-app-manifest' });
  const state = randomBytes(32).toString('base64url');
  const host = o.host ?? '127.0.0.1';
  let resolve!: (a: CreatedApp) => void;
  let reject!: (e: Error) => void;
  const done = new Promise<CreatedApp>((res, rej) => ((resolve = res), (reject = rej)));
  // The caller awaits `done`; this keeps an early failure from being reported as unhandled meanwhile.
  done.catch(() => undefined);
  let phase: 'waiting' | 'exchanging' | 'finished' = 'waiting';
  let manifestJson = '';

  const app = new Hono();
  // One page per connection: the listener closes right after the last page, without waiting for a
  // browser's idle keep-alive connection to time out.
  app.use(async (c, next) => {
    await next();
    c.header('Connection', 'close');
  });
  app.get('/', (c) => {
    const target = newAppUrl(o.githubUrl, o.org, state);
    const where = o.org ? `the organisation ${o.org}` : 'your account';
    return c.html(page('Create the myaas GitHub App', html`
      <p>This registers the GitHub App <b>${o.name}</b> for the myaas controller at <code>${o.controllerUrl}</code>
      under ${where} on <code>${o.githubUrl}</code>: pull requests read, issues write; events pull_request and issue_comment.</p>
      <form method="post" action="${target}">
        <input type="hidden" name="manifest" value="${manifestJson}">
        <button type="submit">Continue on GitHub</button>
      </form>
      <script>document.forms[0].submit()</script>`));
  });
  app.get('/callback', async (c) => {
    const code = c.req.query('code');
    const got = c.req.query('state') ?? '';
    if (!sameSecret(got, state)) {
      log.warn('refused a redirect whose state does not match: not started here');
      return c.html(page('Refused', html`<p>This redirect does not belong to the registration started here (its
        <code>state</code> does not match), so its code was not used. Open <a href="/">the start page</a> to register the App.</p>`), 400);
    }
    if (!code) return c.html(page('No code', html`<p>GitHub's redirect carried no code. Open <a href="/">the start page</a> again.</p>`), 400);
    if (phase !== 'waiting') return c.html(page('Already handled', html`<p>This registration is ${phase === 'finished' ? 'done' : 'under way'}.</p>`), 409);
    phase = 'exchanging';
    let created: CreatedApp;
    try {
      created = await o.converter.convert(code);
    } catch (e) {
      // A code GitHub refuses will not get better; anything else (network) may, on a reload.
      const fatal = isAppError(e) && e.status < 500;
      log.error({ err: messageOf(e) }, 'exchanging the manifest code failed');
      if (fatal) {
        phase = 'finished';
        reject(e as Error);
      } else phase = 'waiting';
      return c.html(page('GitHub did not hand over the App', html`<p>${messageOf(e)}</p>${fatal ? '' : html`<p>Reload this page to try again.</p>`}`), 502);
    }
    try {
      await o.store.save(created);
    } catch (e) {
      phase = 'finished';
      reject(new Error(`the App ${created.name} (${created.htmlUrl}) was created, but its credentials could not be stored: ${messageOf(e)}`));
      return c.html(page('Not stored', html`<p>${messageOf(e)}</p>`), 500);
    }
    phase = 'finished';
    log.info({ appId: created.id, slug: created.slug }, 'GitHub App created and its credentials stored');
    resolve(created);
    return c.html(page('GitHub App created', html`
      <p>The App <b>${created.name}</b> exists and its credentials are stored on the controller's host.</p>
      <p>Next: <a href="${installUrl(created)}">install it on the repositories</a> that get databases. The terminal says the rest.</p>`));
  });

  const server: ServerType = serve({ fetch: app.fetch, hostname: host, port: o.port ?? 0 });
  await new Promise<void>((res, rej) => {
    server.once('listening', () => res());
    server.once('error', rej);
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
  manifestJson = JSON.stringify(buildManifest({ name: o.name, controllerUrl: o.controllerUrl, redirectUrl: `${origin}/callback` }));
  const timer = setTimeout(() => {
    if (phase === 'finished') return;
    phase = 'finished';
    reject(new Error(`no answer from GitHub within ${Math.round((o.timeoutMs ?? 3600_000) / 60_000)} min; start again`));
  }, o.timeoutMs ?? 3600_000);

  return {
    pageUrl: `${origin}/`,
    done,
    close: () =>
      new Promise<void>((res) => {
        clearTimeout(timer);
        server.close(() => res());
        // A browser keeps its connection open; the page it wanted has been sent.
        if ('closeIdleConnections' in server) server.closeIdleConnections();
      }),
  };
}
