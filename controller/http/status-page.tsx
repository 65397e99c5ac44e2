// GET / (the status page), POST /login and POST /logout. Only admins see the page: a session cookie
// from the login form (an admin API token, posted once, never in a URL), or the token as a bearer
// header for scripts. Without either, the login form is all that renders.
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Logger } from '../domain/logger.js';
import type { StatusService } from '../app/ports.js';
import { createSessionBook, type SessionBook } from './status-page-session.js';
import { CSS_HASH } from './status-page-style.js';
import { LoginPage, StatusPage } from './status-page-view.js';

export interface StatusPageDeps {
  status: Pick<StatusService, 'snapshot'>;
  /** true for an admin API token (MYAAS_API_TOKENS); OIDC tokens do not open this page */
  isAdminToken: (token: string) => boolean;
  tokensConfigured: boolean;
  /** where pull requests live: https://github.com, or a GitHub Enterprise Server's web URL */
  githubWebUrl: string;
  log: Logger;
  sessions?: SessionBook;
  /** lifetime of a login; default 12 h */
  sessionTtlMs?: number;
}

const COOKIE = 'myaas_session';
const DEFAULT_TTL_MS = 12 * 3600 * 1000;

// No script at all, the one stylesheet by its hash, no framing, forms only to this origin.
const CSP = [
  "default-src 'none'",
  `style-src '${CSS_HASH}'`,
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

function secureHeaders(c: Context): void {
  c.header('content-security-policy', CSP);
  c.header('cache-control', 'no-store');
  c.header('x-content-type-options', 'nosniff');
  c.header('x-frame-options', 'DENY');
  c.header('referrer-policy', 'no-referrer');
}

/** Served over TLS: directly, or behind a proxy that terminates it (only decides the cookie's Secure flag). */
const overTls = (c: Context) => new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https';

const bearer = (c: Context) => /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1] ?? null;

export function createStatusPage(deps: StatusPageDeps): Hono {
  const ttlMs = deps.sessionTtlMs ?? DEFAULT_TTL_MS;
  const sessions = deps.sessions ?? createSessionBook({ ttlMs });
  const log = deps.log.child({ component: 'status-page' });
  const app = new Hono();

  const signedIn = (c: Context) => {
    const token = bearer(c);
    if (token !== null) return deps.isAdminToken(token);
    return sessions.valid(getCookie(c, COOKIE));
  };
  const login = async (c: Context, status: 200 | 401 | 403, error: string | null = null) => {
    secureHeaders(c);
    return c.html(`<!DOCTYPE html>${await (<LoginPage error={error} tokensConfigured={deps.tokensConfigured} />)}`, status);
  };

  app.get('/', async (c) => {
    if (!signedIn(c)) return login(c, 401);
    const snapshot = await deps.status.snapshot();
    secureHeaders(c);
    return c.html(`<!DOCTYPE html>${await (<StatusPage s={snapshot} githubWebUrl={deps.githubWebUrl} />)}`);
  });

  // The cookie is SameSite=Strict, so another site cannot post with it; a browser that says the
  // post comes from another site is refused outright (login CSRF).
  const sameSite = (c: Context) => c.req.header('sec-fetch-site') !== 'cross-site';

  app.post(
    '/login',
    bodyLimit({ maxSize: 8 * 1024, onError: (c) => login(c, 401, 'That is not an API token.') }),
    async (c) => {
      if (!sameSite(c)) return login(c, 403, 'Log in from this page, not from another site.');
      const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
      const token = typeof form.token === 'string' ? form.token.trim() : '';
      if (!token || !deps.isAdminToken(token)) {
        log.warn({ ip: c.req.header('x-forwarded-for') ?? null }, 'status page login refused');
        return login(c, 401, 'Unknown API token (check MYAAS_API_TOKENS).');
      }
      setCookie(c, COOKIE, sessions.open(), {
        httpOnly: true,
        sameSite: 'Strict',
        secure: overTls(c),
        path: '/',
        maxAge: Math.floor(ttlMs / 1000),
      });
      log.info('status page login');
      return c.redirect('/', 303);
    },
  );

  app.post('/logout', (c) => {
    if (sameSite(c)) {
      sessions.close(getCookie(c, COOKIE));
      deleteCookie(c, COOKIE, { path: '/', secure: overTls(c) });
    }
    return c.redirect('/', 303);
  });

  return app;
}
