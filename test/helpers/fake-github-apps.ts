// GitHub Apps in the local GitHub stand-in: the apps it knows (the test's own, and those registered
// through the manifest flow), their installations, app-JWT checks, and the two halves of the manifest
// flow: the web page `POST /settings/apps/new` (or `/organizations/ORG/settings/apps/new`) that GitHub
// shows the person registering the app, and `POST /app-manifests/{code}/conversions` on the API.
// The web half checks the manifest against what GitHub accepts (known keys, permission names and
// levels from GitHub's OpenAPI description, event names from its webhook examples, events only with
// the permission they need) and records anything off as a violation.
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { decodeJwt, jwtVerify } from 'jose';

const require = createRequire(import.meta.url);

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface FakeApp {
  id: string;
  slug: string;
  name: string;
  /** account that owns the app registration */
  owner: string;
  publicKey: KeyObject;
  /** only for apps registered through the manifest flow: what the conversion handed out */
  pem?: string;
  webhookSecret?: string | null;
  clientId?: string;
  manifest?: Json;
}

export interface FakeInstallation {
  id: number;
  appId: string;
  repos: Set<string>;
}

export interface WebAnswer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

const MANIFEST_KEYS = new Set([
  'name', 'url', 'hook_attributes', 'redirect_url', 'callback_urls', 'setup_url', 'description', 'public',
  'default_events', 'default_permissions', 'request_oauth_on_install', 'setup_on_update',
]);
// GitHub refuses an event subscription without a permission that covers it (only the events myaas
// asks for are listed; others are not checked here).
const EVENT_NEEDS: Record<string, string[]> = {
  pull_request: ['pull_requests'],
  issue_comment: ['issues', 'pull_requests'],
};
const CODE_TTL_MS = 3600_000;

const isUrl = (v: unknown) => {
  try {
    return typeof v === 'string' && /^https?:$/.test(new URL(v).protocol);
  } catch {
    return false;
  }
};

/** Problems GitHub would have with `m` as a manifest; empty when it would accept it. */
export function manifestProblems(m: Json, spec: Json): string[] {
  if (!m || typeof m !== 'object' || Array.isArray(m)) return ['manifest is not a JSON object'];
  const out: string[] = [];
  for (const k of Object.keys(m)) if (!MANIFEST_KEYS.has(k)) out.push(`unknown manifest key ${k}`);
  if (!isUrl(m.url)) out.push('url (the app homepage) is required and must be a URL');
  if (m.name !== undefined && (typeof m.name !== 'string' || !m.name.trim() || m.name.length > 34)) out.push('name must be 1 to 34 characters');
  if (m.redirect_url !== undefined && !isUrl(m.redirect_url)) out.push('redirect_url must be a URL');
  if (m.hook_attributes !== undefined && !isUrl(m.hook_attributes?.url)) out.push('hook_attributes.url must be a URL');
  if (m.public !== undefined && typeof m.public !== 'boolean') out.push('public must be a boolean');
  const known = spec.components.schemas['app-permissions'].properties as Record<string, { enum: string[] }>;
  const perms = (m.default_permissions ?? {}) as Record<string, string>;
  for (const [k, v] of Object.entries(perms)) {
    if (!known[k]) out.push(`unknown permission ${k}`);
    else if (!known[k].enum.includes(v)) out.push(`permission ${k}=${v} is not one of ${known[k].enum.join(', ')}`);
  }
  const events = (require('@octokit/webhooks-examples') as { name: string }[]).map((d) => d.name);
  for (const e of (m.default_events ?? []) as string[]) {
    if (!events.includes(e)) out.push(`unknown event ${e}`);
    else if (EVENT_NEEDS[e] && !EVENT_NEEDS[e].some((p) => perms[p])) out.push(`event ${e} needs one of the permissions ${EVENT_NEEDS[e].join(', ')}`);
  }
  return out;
}

export function createAppRegistry(o: { spec: Json; url: () => string; webUser: string; violations: string[] }) {
  const apps = new Map<string, FakeApp>();
  const installations = new Map<number, FakeInstallation>();
  const codes = new Map<string, { manifest: Json; owner: string; ownerType: 'User' | 'Organization'; expires: number }>();
  let nextAppId = 900_000;
  let nextInstallation = 5_000;

  const install = (appId: string, repos: string[], id = nextInstallation++): number => {
    if (!apps.has(appId)) throw new Error(`fake GitHub: no app ${appId}`);
    installations.set(id, { id, appId, repos: new Set(repos.map((r) => r.toLowerCase())) });
    return id;
  };

  /** The page GitHub shows after the manifest form is posted; the fake "clicks Create" at once. */
  function registerFromForm(path: string, query: URLSearchParams, raw: string, contentType: string): WebAnswer {
    const bad = (msg: string): WebAnswer => {
      o.violations.push(`POST ${path}: ${msg}`);
      return { status: 422, body: msg, headers: { 'content-type': 'text/plain' } };
    };
    if (!contentType.startsWith('application/x-www-form-urlencoded')) return bad('the manifest form must be posted as application/x-www-form-urlencoded');
    const form = new URLSearchParams(raw);
    let manifest: Json;
    try {
      manifest = JSON.parse(form.get('manifest') ?? '');
    } catch {
      return bad('form field manifest is missing or not JSON');
    }
    const problems = manifestProblems(manifest, o.spec);
    if (problems.length) return bad(problems.join('; '));
    const org = /^\/organizations\/([^/]+)\/settings\/apps\/new$/.exec(path)?.[1];
    const code = randomBytes(10).toString('hex');
    codes.set(code, { manifest, owner: org ?? o.webUser, ownerType: org ? 'Organization' : 'User', expires: Date.now() + CODE_TTL_MS });
    if (!manifest.redirect_url) return { status: 200, body: 'app registered; no redirect_url', headers: { 'content-type': 'text/plain' } };
    const to = new URL(manifest.redirect_url);
    to.searchParams.set('code', code);
    const state = query.get('state');
    if (state !== null) to.searchParams.set('state', state);
    return { status: 302, body: '', headers: { location: to.toString() } };
  }

  return {
    apps,
    installations,
    install,
    /** the test's own app, given by its public key */
    addApp(id: string, publicKey: KeyObject, repos: Record<string, number>) {
      apps.set(id, { id, slug: `app-${id}`, name: `app ${id}`, owner: o.webUser, publicKey });
      for (const [repo, inst] of Object.entries(repos)) {
        const existing = installations.get(inst);
        if (existing) existing.repos.add(repo.toLowerCase());
        else install(id, [repo], inst);
      }
    },
    /** `POST /settings/apps/new` and the organisation variant; null for any other web path */
    web(method: string, path: string, query: URLSearchParams, raw: string, contentType: string): WebAnswer | null {
      if (!/^(\/organizations\/[^/]+)?\/settings\/apps\/new$/.test(path)) return null;
      if (method !== 'POST') return { status: 405, body: 'the manifest flow posts a form', headers: {} };
      return registerFromForm(path, query, raw, contentType);
    },
    /** The app id a JWT proves, or why it proves nothing. */
    async verifyJwt(jwt: string): Promise<{ appId: string } | { error: string }> {
      try {
        const iss = String(decodeJwt(jwt).iss);
        const app = apps.get(iss);
        if (!app) return { error: `JWT iss ${iss} is no app this GitHub knows` };
        const { payload } = await jwtVerify(jwt, app.publicKey, { algorithms: ['RS256'] });
        if (!payload.exp || !payload.iat || payload.exp - payload.iat > 600 + 60) return { error: 'JWT lifetime over 10 minutes' };
        return { appId: app.id };
      } catch (e) {
        return { error: `app route needs a valid app JWT: ${(e as Error).message}` };
      }
    },
    /** `POST /app-manifests/{code}/conversions`: the new app's credentials, once per code. */
    convert(code: string, template: Json): [number, Json] {
      const c = codes.get(code);
      codes.delete(code);
      if (!c || c.expires < Date.now()) return [404, { message: 'Not Found' }];
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const id = String(nextAppId++);
      const name: string = c.manifest.name ?? `app-${id}`;
      const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
      const app: FakeApp = {
        id, slug, name, owner: c.owner, publicKey, manifest: c.manifest,
        pem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
        webhookSecret: c.manifest.hook_attributes ? randomBytes(20).toString('hex') : null,
        clientId: `Iv1.${randomBytes(8).toString('hex')}`,
      };
      apps.set(id, app);
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const json = structuredClone(template);
      Object.assign(json, {
        id: Number(id), slug, name, node_id: `A_${id}`, description: c.manifest.description ?? '',
        external_url: c.manifest.url, html_url: `${o.url()}/apps/${slug}`, created_at: now, updated_at: now,
        // GitHub grants metadata read to every app.
        permissions: { metadata: 'read', ...c.manifest.default_permissions },
        events: c.manifest.default_events ?? [],
        client_id: app.clientId, client_secret: randomBytes(20).toString('hex'),
        webhook_secret: app.webhookSecret, pem: app.pem,
      });
      Object.assign(json.owner, { login: c.owner, type: c.ownerType });
      return [201, json];
    },
  };
}

export type AppRegistry = ReturnType<typeof createAppRegistry>;
