// The Action's HTTP client for the controller, and the token it authenticates with. Every failure
// becomes an ActionError whose message tells the workflow author what to fix.
import type { CreateInstanceRequest, CreateInstanceResponse, ErrorDto, InstanceDto, SchemaDiffResponse } from '../controller/contract.js';
import { ActionError, type ActionCore, type ActionInputs } from './inputs.js';

export type AuthMode = 'oidc' | 'token';

export interface ControllerClientOptions {
  baseUrl: string;
  token: string;
  auth: AuthMode;
  /** the OIDC audience asked for, to explain a 401 */
  audience?: string;
  fetch?: typeof fetch;
  /** pauses between attempts after a transient network failure */
  retryDelaysMs?: number[];
  sleep?: (ms: number) => Promise<void>;
}

export interface ControllerClient {
  /** POST /instances?wait=…: get-or-create on (owner from the token, template) */
  create(req: CreateInstanceRequest, waitSeconds: number): Promise<CreateInstanceResponse>;
  /** POST /instances/:id/reset?wait=… */
  reset(id: string, waitSeconds: number): Promise<InstanceDto>;
  /** DELETE /instances/:id; 'gone' when the controller no longer knows it */
  destroy(id: string): Promise<'destroyed' | 'gone'>;
  /** POST /instances/:id/schema-diff */
  schemaDiff(id: string): Promise<SchemaDiffResponse>;
}

const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// Connection-level failures that a restarting controller or a flaky hop produce; worth a retry.
const TRANSIENT = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

function networkCode(e: unknown): string | null {
  const cause = (e as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === 'string' ? cause.code : null;
}

export function createControllerClient(opts: ControllerClientOptions): ControllerClient {
  const doFetch = opts.fetch ?? globalThis.fetch;
  const delays = opts.retryDelaysMs ?? [1000, 2000];
  const sleep = opts.sleep ?? sleepMs;
  // Where requests go: the configured controller, or the active one a standby named (see below).
  let base = opts.baseUrl.replace(/\/+$/, '');
  let redirects = 0;

  const unreachable = (detail: string) =>
    new ActionError(
      `cannot reach the myaas controller at ${base} (${detail}). The runner running this job must be able to reach ` +
        `the controller: check the controller-url input, that the controller is running, and that no firewall ` +
        `or private network stands between them (a self-hosted runner may be needed for a private controller).`,
    );

  async function request<T>(method: string, path: string, body: unknown, timeoutMs: number): Promise<{ status: number; data: T | ErrorDto | null }> {
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await doFetch(`${base}/api/v1${path}`, {
          method,
          headers: {
            authorization: `Bearer ${opts.token}`,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (e) {
        if ((e as Error)?.name === 'TimeoutError') throw unreachable(`no answer within ${Math.round(timeoutMs / 1000)} s`);
        const code = networkCode(e);
        if (attempt < delays.length && (code === null || TRANSIENT.has(code))) {
          await sleep(delays[attempt]);
          continue;
        }
        throw unreachable(code ?? (e as Error)?.message ?? String(e));
      }
      const text = await res.text();
      let data: T | ErrorDto | null = null;
      try {
        data = text ? (JSON.parse(text) as T | ErrorDto) : null;
      } catch {
        data = null;
      }
      // A standby controller (several share one state DB, one is active) names the active one: ask
      // it instead. A standby that names none yet is taking over: wait as for a restart.
      if (res.status === 503 && isErrorDto(data) && data.error.code === 'standby') {
        const active = activeUrl(res.headers.get('myaas-active-url'));
        if (active && active !== base && redirects < 3) {
          redirects++;
          base = active;
          attempt--;
          continue;
        }
        if (attempt < delays.length) {
          await sleep(Math.max(delays[attempt], retryAfterMs(res.headers.get('retry-after'))));
          continue;
        }
      }
      // A proxy's 502/503 (no myaas error body) usually means the controller is restarting.
      if ((res.status === 502 || res.status === 503) && !isErrorDto(data) && attempt < delays.length) {
        await sleep(delays[attempt]);
        continue;
      }
      return { status: res.status, data };
    }
  }

  function failure(status: number, data: unknown, what: { op: string; template?: string; id?: string }): ActionError {
    if (!isErrorDto(data)) {
      return new ActionError(
        `${base} answered HTTP ${status} to ${what.op} without a myaas error body: does controller-url point at the myaas controller (its base URL, without /api/v1)?`,
      );
    }
    const { code, message } = data.error;
    if (status === 401 || status === 403) {
      // 401: the token itself was refused; 403: it was fine but this repository may not do this.
      const how =
        opts.auth === 'token'
          ? 'The Action authenticated with the `token` input: it must be one of the controller\'s MYAAS_API_TOKENS.'
          : status === 401
            ? `The Action authenticated with a GitHub OIDC token for audience "${opts.audience ?? ''}".`
            : "The controller's MYAAS_GITHUB_REPOS must list this repository with this template.";
      return new ActionError(`the controller refused to ${what.op} (HTTP ${status} ${code}): ${message}. ${how}`);
    }
    if (status === 404 && what.template !== undefined) {
      return new ActionError(`template ${what.template} is unknown to the controller at ${base}: ${message}. Check the template input against \`myaas templates\`.`);
    }
    if (status === 504 || code === 'timeout') {
      return new ActionError(`timed out waiting to ${what.op}: ${message}. Raise the timeout input, or look at the controller's logs.`);
    }
    return new ActionError(`the controller could not ${what.op} (HTTP ${status} ${code}): ${message}`);
  }

  // The controller holds the request open up to `wait` seconds; give it a margin before giving up.
  const timeoutFor = (waitSeconds: number) => (waitSeconds + 30) * 1000;

  return {
    async create(req, waitSeconds) {
      const op = `get or create an instance of template ${req.template}`;
      const { status, data } = await request<CreateInstanceResponse>('POST', `/instances?wait=${waitSeconds}`, req, timeoutFor(waitSeconds));
      if (status !== 200 && status !== 201) throw failure(status, data, { op, template: req.template });
      const inst = asInstance(data, base, op) as CreateInstanceResponse;
      return { ...inst, created: inst.created ?? status === 201 };
    },
    async reset(id, waitSeconds) {
      const op = `reset instance ${id}`;
      const { status, data } = await request<InstanceDto>('POST', `/instances/${encodeURIComponent(id)}/reset?wait=${waitSeconds}`, undefined, timeoutFor(waitSeconds));
      if (status < 200 || status > 299) throw failure(status, data, { op, id });
      return asInstance(data, base, op);
    },
    async schemaDiff(id) {
      const op = `compare the schema of instance ${id} with its template`;
      const { status, data } = await request<SchemaDiffResponse>('POST', `/instances/${encodeURIComponent(id)}/schema-diff`, undefined, 60_000);
      if (status !== 200) throw failure(status, data, { op, id });
      return data as SchemaDiffResponse;
    },
    async destroy(id) {
      const op = `destroy instance ${id}`;
      const { status, data } = await request<unknown>('DELETE', `/instances/${encodeURIComponent(id)}`, undefined, 60_000);
      if (status === 404) return 'gone';
      if (status < 200 || status > 299) throw failure(status, data, { op, id });
      return 'destroyed';
    },
  };
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

function retryAfterMs(header: string | null): number {
  const s = Number(header);
  return Number.isFinite(s) && s > 0 ? Math.min(s, 30) * 1000 : 0;
}

function isErrorDto(x: unknown): x is ErrorDto {
  const err = (x as ErrorDto | null)?.error;
  return typeof err === 'object' && err !== null && typeof err.message === 'string';
}

function asInstance(data: unknown, base: string, op: string): InstanceDto {
  const inst = data as InstanceDto | null;
  if (!inst || typeof inst.id !== 'string' || typeof inst.status !== 'string') {
    throw new ActionError(`${base} answered ${op} with something that is not a myaas instance: is controller-url right?`);
  }
  return inst;
}

/**
 * The bearer token: the `token` input, or a GitHub OIDC token from the runner. @actions/core masks
 * the OIDC token itself.
 */
export async function obtainToken(c: Pick<ActionCore, 'getIDToken'>, inputs: ActionInputs): Promise<{ token: string; auth: AuthMode }> {
  if (inputs.token) return { token: inputs.token, auth: 'token' };
  try {
    return { token: await c.getIDToken(inputs.audience), auth: 'oidc' };
  } catch (e) {
    const msg = (e as Error)?.message ?? String(e);
    const permission =
      'Give the job `permissions: id-token: write` (with `contents: read` if it checks out code), or pass an API token in the `token` input.';
    // The runner sets ACTIONS_ID_TOKEN_REQUEST_* only when the job may mint OIDC tokens.
    if (/ACTIONS_ID_TOKEN_REQUEST_(URL|TOKEN)/.test(msg)) {
      throw new ActionError(
        `cannot get a GitHub OIDC token: this job lacks the id-token permission. ${permission} ` +
          '(Pull requests from forks never get OIDC tokens.)',
      );
    }
    throw new ActionError(`cannot get a GitHub OIDC token from the runner: ${msg.replace(/\s+/g, ' ').trim()}. ${permission}`);
  }
}

/** Longest the controller is asked to hold one request open; proxies often cut idle requests at 60 s. */
const MAX_WAIT_PER_REQUEST_S = 50;

export interface EnsureOptions {
  timeoutSeconds: number;
  reset: boolean;
  /** called once, as soon as the instance's id is known (before it is ready) */
  onInstance?: (instance: InstanceDto) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Gets (or creates) the instance and waits until it is ready, resetting an existing one if asked.
 * Waiting repeats the get-or-create, which is idempotent, so a long timeout never rests on one
 * long-held request.
 */
export async function ensureReady(
  client: ControllerClient,
  req: CreateInstanceRequest,
  opts: EnsureOptions,
): Promise<{ instance: InstanceDto; created: boolean }> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? sleepMs;
  const deadline = now() + opts.timeoutSeconds * 1000;
  const wait = () => Math.max(1, Math.min(MAX_WAIT_PER_REQUEST_S, Math.ceil((deadline - now()) / 1000)));

  const first = await client.create(req, wait());
  const created = first.created;
  opts.onInstance?.(first);
  let inst: InstanceDto = first;
  // A fresh instance already has the latest data; resetting it would only cost time.
  if (opts.reset && !created) inst = await client.reset(inst.id, wait());

  for (;;) {
    if (inst.status === 'ready' && inst.connection) return { instance: inst, created };
    if (inst.status === 'failed') {
      throw new ActionError(`instance ${inst.id} (${inst.name}) of template ${inst.template} failed: ${inst.error ?? 'no reason given'}. See the controller's logs.`);
    }
    if (inst.status === 'ready') {
      throw new ActionError(`the controller returned instance ${inst.id} without connection details: does this token own it?`);
    }
    if (now() >= deadline) {
      throw new ActionError(
        `timed out after ${opts.timeoutSeconds} s waiting for instance ${inst.id} (${inst.name}) of template ${inst.template}: ` +
          `its status is still ${inst.status}. Raise the timeout input, or look at the controller's logs.`,
      );
    }
    const started = now();
    inst = await client.create(req, wait());
    // A controller that ignores ?wait must not be hammered.
    if (inst.status !== 'ready' && now() - started < 1000) await sleep(1000);
  }
}
