// The CLI's HTTP client for a running controller (MYAAS_URL, MYAAS_TOKEN).
import type { CreateInstanceResponse, HealthDto, ImportResponse, InstanceDto, ListInstancesQuery, SchemaDiffResponse, TemplateDto } from './contract.js';

export class CliError extends Error {}

/** The next page's path from a `Link: <…>; rel="next"` header (RFC 8288), if any. */
export function nextPage(link: string | null): string | null {
  for (const part of link?.split(',') ?? []) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /(^|;)\s*rel="?next"?\s*(;|$)/.test(m[2])) return m[1];
  }
  return null;
}

/** The active controller's base URL from a standby's `myaas-active-url`, if it is an http(s) URL. */
export function activeUrl(header: string | null): string | null {
  if (!header) return null;
  try {
    const u = new URL(header);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.toString().replace(/\/+$/, '') : null;
  } catch {
    return null;
  }
}

/** How long the CLI waits for a standby that names no active controller yet (one is taking over). */
const TAKEOVER_WAIT_MS = 30_000;

export function createCliClient(
  baseUrl: string,
  token: string | undefined,
  fetchFn: typeof fetch = globalThis.fetch,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
) {
  // The configured controller, or the active one a standby named (controllers sharing a state DB).
  let base = baseUrl.replace(/\/+$/, '');
  let waited = 0;
  async function call<T>(method: string, path: string, body?: unknown, redirects = 0): Promise<{ status: number; data: T; headers: Headers }> {
    let res: Response;
    try {
      res = await fetchFn(`${base}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new CliError(`cannot reach the controller at ${base} (${(e as Error).cause ?? (e as Error).message}): start it with \`myaas serve\` or set MYAAS_URL`);
    }
    const text = await res.text();
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    if (!res.ok) {
      const err = (data as { error?: { code: string; message: string } })?.error;
      const active = res.status === 503 && err?.code === 'standby' ? activeUrl(res.headers.get('myaas-active-url')) : null;
      if (active && active !== base && redirects < 3) {
        base = active;
        return call<T>(method, path, body, redirects + 1);
      }
      // A standby that names no active controller: one is taking over (or all just started). Wait as it says.
      if (res.status === 503 && err?.code === 'standby' && !active && waited < TAKEOVER_WAIT_MS) {
        const pause = Math.min(5, Math.max(1, Number(res.headers.get('retry-after')) || 2)) * 1000;
        waited += pause;
        await sleep(pause);
        return call<T>(method, path, body, redirects);
      }
      const hint = res.status === 401 && !token ? ' (set MYAAS_TOKEN to one of the controller\'s MYAAS_API_TOKENS)' : '';
      throw new CliError(`${err?.message ?? `HTTP ${res.status}`}${hint}`);
    }
    return { status: res.status, data: data as T, headers: res.headers };
  }
  return {
    async reachable(): Promise<boolean> {
      try {
        await fetchFn(`${base}/healthz`, { signal: AbortSignal.timeout(1500) });
        return true;
      } catch {
        return false;
      }
    },
    templates: () => call<TemplateDto[]>('GET', '/api/v1/templates').then((r) => r.data),
    health: () => call<HealthDto>('GET', '/healthz').then((r) => r.data),
    importTemplate: (name: string) => call<ImportResponse>('POST', `/api/v1/templates/${encodeURIComponent(name)}/import`).then((r) => r.data),
    cancelImport: (name: string) => call<ImportResponse>('DELETE', `/api/v1/templates/${encodeURIComponent(name)}/import`).then((r) => r.data),
    /** Every live instance matching the filters, following the API's pages (1000 a request). */
    async list(filter: Pick<ListInstancesQuery, 'template' | 'owner' | 'status'> = {}): Promise<InstanceDto[]> {
      const query = new URLSearchParams({ ...Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined)), limit: '1000' });
      const all: InstanceDto[] = [];
      const seen = new Set<string>();
      for (let path: string | null = `/api/v1/instances?${query}`; path && !seen.has(path); ) {
        seen.add(path);
        const r = await call<InstanceDto[]>('GET', path);
        all.push(...r.data);
        const next = nextPage(r.headers.get('link'));
        // The controller links relative to the request; only paths on the same controller are followed.
        path = next?.startsWith('/') ? next : null;
      }
      return all;
    },
    create: (body: { template: string; name?: string; ttl?: string }, wait: number) =>
      call<CreateInstanceResponse>('POST', `/api/v1/instances${wait ? `?wait=${wait}` : ''}`, body).then((r) => r.data),
    get: (id: string) => call<InstanceDto>('GET', `/api/v1/instances/${encodeURIComponent(id)}`).then((r) => r.data),
    reset: (id: string, wait: number) => call<InstanceDto>('POST', `/api/v1/instances/${encodeURIComponent(id)}/reset${wait ? `?wait=${wait}` : ''}`).then((r) => r.data),
    schemaDiff: (id: string) => call<SchemaDiffResponse>('POST', `/api/v1/instances/${encodeURIComponent(id)}/schema-diff`).then((r) => r.data),
    remove: (id: string, wait: number) => call<InstanceDto>('DELETE', `/api/v1/instances/${encodeURIComponent(id)}${wait ? `?wait=${wait}` : ''}`).then((r) => r.data),
  };
}

export type CliClient = ReturnType<typeof createCliClient>;
