// The GitHub App manifest flow, GitHub's way of registering a preconfigured App in one click:
//   1. a page POSTs the manifest (JSON in a form field `manifest`) to <github>/settings/apps/new
//      (or /organizations/ORG/settings/apps/new), with a `state` in the query string;
//   2. once the person confirms, GitHub redirects to the manifest's redirect_url with `?code=&state=`;
//   3. POST /app-manifests/{code}/conversions on the API (no auth: the one-hour code is the credential)
//      answers the new App's id, private key (pem) and webhook secret.
// This file: the manifest, the URLs, and step 3 behind an interface. The local listener that plays
// steps 1 and 2 is app-manifest-flow.ts; storing the answer is app-manifest-store.ts.
import { Octokit } from '@octokit/rest';
import { AppError, messageOf } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';

export const GITHUB_COM = 'https://github.com';
const GITHUB_COM_API = 'https://api.github.com';
/** GitHub's limit on App names */
const MAX_NAME = 34;

/** What myaas needs of an App: pull requests to read, issues to comment on; webhooks for both. */
export const APP_PERMISSIONS = { pull_requests: 'read', issues: 'write', metadata: 'read' } as const;
export const APP_EVENTS = ['pull_request', 'issue_comment'] as const;

export interface AppManifest {
  name: string;
  url: string;
  description: string;
  hook_attributes: { url: string; active: boolean };
  redirect_url: string;
  public: boolean;
  default_permissions: Record<string, string>;
  default_events: string[];
}

/** The App as the conversion describes it. Holds secrets: never log it whole. */
export interface CreatedApp {
  id: number;
  slug: string;
  name: string;
  /** the account that owns the registration */
  owner: string;
  /** the App's page, e.g. https://github.com/apps/<slug> */
  htmlUrl: string;
  clientId: string;
  pem: string;
  /** null when GitHub made none (it always does when the manifest has a webhook) */
  webhookSecret: string | null;
}

/** An absolute http(s) URL without query or fragment, without a trailing slash; throws otherwise. */
export function normaliseBaseUrl(s: string, what: string): string {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new AppError('bad_request', `${what} is not a URL: ${JSON.stringify(s)}`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new AppError('bad_request', `${what} must be an http(s) URL, got ${u.protocol}`);
  if (u.search || u.hash || u.username || u.password) throw new AppError('bad_request', `${what} must not carry a query, fragment or credentials`);
  return u.toString().replace(/\/+$/, '');
}

/** `myaas-<controller host>`, within GitHub's 34 characters; the person can rename it on GitHub's page. */
export function defaultAppName(controllerUrl: string): string {
  const host = new URL(controllerUrl).hostname.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  return `myaas-${host}`.slice(0, MAX_NAME).replace(/-$/, '');
}

/**
 * The API for a web URL: github.com's is api.github.com; a GitHub Enterprise Server's is
 * <server>/api/v3, unless MYAAS_GITHUB_API_URL names another one explicitly.
 */
export function apiUrlFor(githubUrl: string, configuredApiUrl: string): string {
  if (githubUrl === GITHUB_COM) return configuredApiUrl;
  return configuredApiUrl === GITHUB_COM_API ? `${githubUrl}/api/v3` : configuredApiUrl;
}

/** Where the manifest form is posted, `state` included (GitHub hands it back on the redirect). */
export function newAppUrl(githubUrl: string, org: string | null, state: string): string {
  const path = org ? `/organizations/${encodeURIComponent(org)}/settings/apps/new` : '/settings/apps/new';
  return `${githubUrl}${path}?state=${encodeURIComponent(state)}`;
}

/** The page where the App is installed on repositories. */
export const installUrl = (app: Pick<CreatedApp, 'htmlUrl'>) => `${app.htmlUrl}/installations/new`;

export function buildManifest(o: { name: string; controllerUrl: string; redirectUrl: string }): AppManifest {
  return {
    name: o.name,
    url: o.controllerUrl,
    description: `Fresh databases for every pull request, from the myaas controller at ${o.controllerUrl}`,
    hook_attributes: { url: `${o.controllerUrl}/api/v1/webhooks/github`, active: true },
    redirect_url: o.redirectUrl,
    // Only the owner installs it: the App can comment on and reset databases of repos it is on.
    public: false,
    default_permissions: { ...APP_PERMISSIONS },
    default_events: [...APP_EVENTS],
  };
}

/** Step 3: trades the redirect's code for the App's credentials. */
export interface ManifestConverter {
  convert(code: string): Promise<CreatedApp>;
}

export function createManifestConverter(o: { apiUrl: string; timeoutMs?: number }, log: Logger): ManifestConverter {
  const clog = log.child({ component: 'github-app-manifest' });
  // Unauthenticated on purpose: the endpoint takes no credentials.
  const octokit = new Octokit({
    baseUrl: o.apiUrl,
    userAgent: 'myaas',
    log: { debug: () => {}, info: () => {}, warn: (m: string) => clog.warn(String(m)), error: (m: string) => clog.error(String(m)) },
  });
  return {
    async convert(code) {
      try {
        const { data } = await octokit.rest.apps.createFromManifest({ code, request: { signal: AbortSignal.timeout(o.timeoutMs ?? 30_000) } });
        // The schema allows an App without an owner; one made from a manifest always has one.
        const owner = (data.owner as { login?: string } | null)?.login ?? '';
        return {
          id: data.id, slug: data.slug ?? String(data.id), name: data.name, owner, htmlUrl: data.html_url,
          clientId: data.client_id, pem: data.pem, webhookSecret: data.webhook_secret ?? null,
        };
      } catch (e) {
        const status = (e as { status?: number }).status;
        if (status === 404) throw new AppError('not_found', 'GitHub does not know this code: it was used already or is more than an hour old; start again');
        if (status === 422) throw new AppError('bad_request', `GitHub refused the code: ${messageOf(e)}`);
        throw new AppError('internal', `exchanging the code with ${o.apiUrl} failed: ${messageOf(e)}`);
      }
    },
  };
}
