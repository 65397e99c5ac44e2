// GitHub's own example webhook payloads (@octokit/webhooks-examples), adapted per test, signed the way
// GitHub signs them; and an in-memory InstancePort that records what the GitHub layer asked for.
import { createHmac, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { WebhookDefinition } from '@octokit/webhooks-examples';
import type { Logger } from '../../controller/domain/ports.js';
import type { InstancePort, InstanceView } from '../../controller/github/ports.js';
import type { InstanceStatus } from '../../controller/http/contract.js';

const require = createRequire(import.meta.url);

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
export type PullRequestAction = 'opened' | 'closed' | 'reopened' | 'synchronize' | 'labeled';

function example(event: string, action?: string): Json {
  const defs = require('@octokit/webhooks-examples') as WebhookDefinition[];
  const def = defs.find((d) => d.name === event);
  const found = def?.examples.find((e) => !action || (e as { action?: string }).action === action);
  if (!found) throw new Error(`no example payload for ${event}${action ? `.${action}` : ''}`);
  return structuredClone(found);
}

export interface PullRequestOptions {
  /** base repository `owner/name` (default Codertocat/Hello-World, as in GitHub's examples) */
  repo?: string;
  number?: number;
  /** true: the head is `forker/<name>`; 'deleted': the fork is gone (head.repo null) */
  fork?: boolean | 'deleted';
  merged?: boolean;
  updatedAt?: string;
}

/** A real `pull_request` example payload, edited to the given repository, number and fork-ness. */
export function pullRequestPayload(action: PullRequestAction, o: PullRequestOptions = {}): Json {
  const p = example('pull_request', action);
  const [owner, name] = (o.repo ?? 'Codertocat/Hello-World').split('/');
  const number = o.number ?? p.number;
  const setRepo = (r: Json, full: string) => {
    const [ow, nm] = full.split('/');
    Object.assign(r, { full_name: full, name: nm });
    r.owner.login = ow;
  };
  setRepo(p.repository, `${owner}/${name}`);
  setRepo(p.pull_request.base.repo, `${owner}/${name}`);
  if (o.fork === 'deleted') p.pull_request.head.repo = null;
  else if (o.fork) {
    setRepo(p.pull_request.head.repo, `forker/${name}`);
    p.pull_request.head.repo.fork = true;
  } else setRepo(p.pull_request.head.repo, `${owner}/${name}`);
  p.number = number;
  p.pull_request.number = number;
  if (o.updatedAt) p.pull_request.updated_at = o.updatedAt;
  if (action === 'closed') p.pull_request.merged = o.merged ?? false;
  return p;
}

export function pingPayload(): Json {
  return example('ping');
}

/** `X-Hub-Signature-256` for `body`, as GitHub computes it. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** A POST as GitHub sends it: raw JSON body and its headers. `secret: null` sends no signature. */
export function webhookRequest(event: string, payload: unknown, o: { secret: string | null; delivery?: string }): RequestInit {
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/abc1234',
    'x-github-event': event,
    'x-github-delivery': o.delivery ?? randomUUID(),
    'x-github-hook-id': '1',
  };
  if (o.secret !== null) headers['x-hub-signature-256'] = signBody(o.secret, body);
  return { method: 'POST', body, headers };
}

export interface FakeInstancePort extends InstancePort {
  /** every call, in order */
  calls: { op: 'ensure' | 'destroyOwner' | 'resetOwner'; owner: string; template?: string }[];
  /** live instances (not destroyed), optionally of one owner */
  live(owner?: string): InstanceView[];
  /** hold every ensure until the returned release() is called (a slow create) */
  holdEnsures(): () => void;
  /** move an instance to `status`, announcing the change like the reconciler does */
  setStatus(id: string, status: InstanceStatus, extra?: Partial<InstanceView>): InstanceView;
  /** make ensure fail for this template */
  failTemplate(template: string | null): void;
}

export function createFakeInstancePort(): FakeInstancePort {
  const all = new Map<string, InstanceView>();
  const listeners = new Set<(v: InstanceView) => void>();
  const calls: FakeInstancePort['calls'] = [];
  let gate: Promise<void> | null = null;
  let failing: string | null = null;
  let seq = 0;
  const emit = (v: InstanceView) => listeners.forEach((l) => l(structuredClone(v)));
  const isLive = (v: InstanceView) => v.status !== 'destroyed';

  const destroy = (v: InstanceView) => {
    v.status = 'destroyed';
    v.connection = null;
    emit(v);
  };

  return {
    calls,
    live: (owner) => [...all.values()].filter((v) => isLive(v) && (!owner || v.owner === owner)),
    holdEnsures() {
      let release = () => {};
      gate = new Promise<void>((r) => (release = r));
      return () => {
        gate = null;
        release();
      };
    },
    failTemplate(t) {
      failing = t;
    },
    setStatus(id, status, extra = {}) {
      const v = all.get(id);
      if (!v) throw new Error(`no instance ${id}`);
      Object.assign(v, extra, { status });
      emit(v);
      return structuredClone(v);
    },
    async ensure({ owner, template }) {
      calls.push({ op: 'ensure', owner, template });
      if (gate) await gate;
      if (template === failing) throw new Error(`template ${template} is not ready`);
      const existing = [...all.values()].find((v) => isLive(v) && v.owner === owner && v.template === template);
      if (existing) return { instance: structuredClone(existing), created: false };
      const id = `i${++seq}`;
      const v: InstanceView = {
        id,
        name: `pr-${owner.split('#')[1] ?? seq}-${template}`,
        owner,
        template,
        templateVersion: 'v1',
        status: 'provisioning',
        expiresAt: null,
        createdAt: new Date().toISOString(),
        readyAt: null,
        connection: null,
        dataAsOf: '2024-05-01T10:00:00.000Z',
      };
      all.set(id, v);
      emit(v);
      return { instance: structuredClone(v), created: true };
    },
    async destroyOwner(owner) {
      calls.push({ op: 'destroyOwner', owner });
      const victims = [...all.values()].filter((v) => isLive(v) && v.owner === owner);
      victims.forEach(destroy);
      return victims.length;
    },
    async resetOwner(owner) {
      calls.push({ op: 'resetOwner', owner });
      return [...all.values()].filter((v) => isLive(v) && v.owner === owner).length;
    },
    async listByOwnerPrefix(prefix) {
      return [...all.values()].filter((v) => isLive(v) && v.owner.startsWith(prefix)).map((v) => structuredClone(v));
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export interface LogLine {
  level: 'info' | 'warn' | 'error' | 'debug';
  bindings: Record<string, unknown>;
  obj: object | string;
  msg?: string;
}

/** A Logger that keeps every line, so tests can assert what was logged (and what never was). */
export function createMemoryLogger(): Logger & { lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const at = (level: LogLine['level']) => (obj: object | string, msg?: string) => void lines.push({ level, bindings, obj, msg });
    return { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug'), child: (b) => make({ ...bindings, ...b }) };
  };
  return Object.assign(make({}), { lines, text: () => lines.map((l) => JSON.stringify(l)).join('\n') });
}
