// The CLI's HTTP client for a running controller (MYAAS_URL, MYAAS_TOKEN).
import type { CreateInstanceResponse, HealthDto, ImportResponse, InstanceDto, SchemaDiffResponse, TemplateDto } from './contract.js';

export class CliError extends Error {}

export function createCliClient(baseUrl: string, token: string | undefined) {
  const base = baseUrl.replace(/\/+$/, '');
  async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; data: T }> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
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
      const hint = res.status === 401 && !token ? ' (set MYAAS_TOKEN to one of the controller\'s MYAAS_API_TOKENS)' : '';
      throw new CliError(`${err?.message ?? `HTTP ${res.status}`}${hint}`);
    }
    return { status: res.status, data: data as T };
  }
  return {
    async reachable(): Promise<boolean> {
      try {
        await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1500) });
        return true;
      } catch {
        return false;
      }
    },
    templates: () => call<TemplateDto[]>('GET', '/api/v1/templates').then((r) => r.data),
    health: () => call<HealthDto>('GET', '/healthz').then((r) => r.data),
    importTemplate: (name: string) => call<ImportResponse>('POST', `/api/v1/templates/${encodeURIComponent(name)}/import`).then((r) => r.data),
    cancelImport: (name: string) => call<ImportResponse>('DELETE', `/api/v1/templates/${encodeURIComponent(name)}/import`).then((r) => r.data),
    list: () => call<InstanceDto[]>('GET', '/api/v1/instances').then((r) => r.data),
    create: (body: { template: string; name?: string; ttl?: string }, wait: number) =>
      call<CreateInstanceResponse>('POST', `/api/v1/instances${wait ? `?wait=${wait}` : ''}`, body).then((r) => r.data),
    get: (id: string) => call<InstanceDto>('GET', `/api/v1/instances/${encodeURIComponent(id)}`).then((r) => r.data),
    reset: (id: string, wait: number) => call<InstanceDto>('POST', `/api/v1/instances/${encodeURIComponent(id)}/reset${wait ? `?wait=${wait}` : ''}`).then((r) => r.data),
    schemaDiff: (id: string) => call<SchemaDiffResponse>('POST', `/api/v1/instances/${encodeURIComponent(id)}/schema-diff`).then((r) => r.data),
    remove: (id: string, wait: number) => call<InstanceDto>('DELETE', `/api/v1/instances/${encodeURIComponent(id)}${wait ? `?wait=${wait}` : ''}`).then((r) => r.data),
  };
}

export type CliClient = ReturnType<typeof createCliClient>;
