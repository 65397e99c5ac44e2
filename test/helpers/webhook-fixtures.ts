// GitHub's own example webhook payloads (@octokit/webhooks-examples), adapted per test, signed the way
// GitHub signs them; and an in-memory fake of the instance service's GitHub side that records what the
// GitHub layer asked for.
import { createHmac, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { WebhookDefinition } from '@octokit/webhooks-examples';
import type { InstanceService } from '../../controller/app/ports.js';
import { createPullRequestHandler } from '../../controller/github/pull-requests.js';
import { createRepositoryGate } from '../../controller/github/repository-gate.js';
import { systemClock } from '../../controller/lib/clock.js';
import { createMemoryStore, type MemoryStore } from './fakes/store.js';
import type { Logger } from '../../controller/domain/logger.js';
import { assertOwner, formatOwner, pullPrefix } from '../../controller/domain/owner.js';
import { newInstanceRecord, type Connection, type InstanceRecord, type InstanceStatus, type InstanceView } from '../../controller/domain/types.js';

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
  /** GitHub's ids of the base repository and its owner, and its visibility */
  repoId?: number;
  ownerId?: number;
  private?: boolean;
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
  if (o.repoId !== undefined) p.repository.id = o.repoId;
  if (o.ownerId !== undefined) p.repository.owner.id = o.ownerId;
  if (o.private !== undefined) p.repository.private = o.private;
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

type GitHubSide = Pick<InstanceService, 'create' | 'destroyOwner' | 'resetOwner' | 'refreshLifetime' | 'viewsOf' | 'pullRequestViews' | 'onChange'>;

export interface FakeInstancePort extends GitHubSide {
  /** every call, in order (create is recorded as ensure: what the GitHub layer asks for) */
  calls: { op: 'ensure' | 'destroyOwner' | 'resetOwner'; owner: string; template?: string }[];
  /** owners whose lifetime was refreshed (a sighting), in order */
  refreshed: string[];
  /** live instances (not destroyed), optionally of one owner key */
  live(owner?: string): InstanceRecord[];
  /** creates (get-or-create) an instance for an owner key given as text, as a test's set-up */
  ensure(req: { owner: string; template: string }): Promise<{ instance: InstanceView; created: boolean }>;
  /** hold every create until the returned release() is called (a slow create) */
  holdEnsures(): () => void;
  /** move an instance to `status`, announcing the change like the reconciler does */
  setStatus(id: string, status: InstanceStatus, extra?: { connection?: Connection | null; error?: string }): InstanceView;
  /** make create fail for this template */
  failTemplate(template: string | null): void;
}

/** A domain InstanceView from flat fields, for tests. */
export function makeView(over: Partial<InstanceRecord> & { connection?: Connection | null; dataAsOf?: Date | null } = {}): InstanceView {
  const { connection = null, dataAsOf = new Date('2024-05-01T10:00:00.000Z'), ...rec } = over;
  const instance = newInstanceRecord({
    id: 'i1', name: 'instance', owner: 'api:test', template: 'chinook', engine: 'postgres', versionId: 'v1', status: 'provisioning',
    password: 'pw', createdAt: new Date('2024-05-02T08:00:00.000Z'), ...rec,
  });
  return { instance, dataAsOf, connection };
}

export function createFakeInstancePort(): FakeInstancePort {
  const all = new Map<string, InstanceView>();
  const listeners = new Set<(v: InstanceView) => void>();
  const calls: FakeInstancePort['calls'] = [];
  const refreshed: string[] = [];
  let gate: Promise<void> | null = null;
  let failing: string | null = null;
  let seq = 0;
  const emit = (v: InstanceView) => listeners.forEach((l) => l(structuredClone(v)));
  const isLive = (v: InstanceView) => v.instance.status !== 'destroyed';
  const liveOf = (owner: string) => [...all.values()].filter((v) => isLive(v) && v.instance.owner === owner);

  const destroy = (v: InstanceView) => {
    v.instance.status = 'destroyed';
    v.connection = null;
    emit(v);
  };

  const create: GitHubSide['create'] = async ({ owner: key, template }) => {
    const owner = formatOwner(key);
    calls.push({ op: 'ensure', owner, template });
    if (gate) await gate;
    if (template === failing) throw new Error(`template ${template} is not ready`);
    const existing = liveOf(owner).find((v) => v.instance.template === template);
    if (existing) return { instance: structuredClone(existing.instance), created: false };
    const id = `i${++seq}`;
    const v = makeView({ id, name: `pr-${key.kind === 'pull' ? key.number : seq}-${template}`, owner, template, createdAt: new Date() });
    all.set(id, v);
    emit(v);
    return { instance: structuredClone(v.instance), created: true };
  };

  return {
    calls,
    refreshed,
    live: (owner) => [...all.values()].filter((v) => isLive(v) && (!owner || v.instance.owner === owner)).map((v) => structuredClone(v.instance)),
    async ensure({ owner, template }) {
      const r = await create({ owner: assertOwner(owner), template });
      return { instance: structuredClone(all.get(r.instance.id)!), created: r.created };
    },
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
      v.instance.status = status;
      if (extra.error !== undefined) v.instance.error = extra.error;
      if (extra.connection !== undefined) v.connection = extra.connection;
      emit(v);
      return structuredClone(v);
    },
    create,
    async destroyOwner(key) {
      const owner = formatOwner(key);
      calls.push({ op: 'destroyOwner', owner });
      const victims = liveOf(owner);
      victims.forEach(destroy);
      return victims.length;
    },
    async resetOwner(key) {
      const owner = formatOwner(key);
      calls.push({ op: 'resetOwner', owner });
      return liveOf(owner).length;
    },
    async refreshLifetime(key) {
      refreshed.push(formatOwner(key));
    },
    async viewsOf(key) {
      return liveOf(formatOwner(key)).map((v) => structuredClone(v));
    },
    async pullRequestViews(repo) {
      const prefix = pullPrefix(repo);
      return [...all.values()].filter((v) => isLive(v) && v.instance.owner.startsWith(prefix)).map((v) => structuredClone(v));
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

/**
 * The pull-request handler as main.ts builds it, over a memory state DB: the repository gate (names,
 * pinned ids, forks) and the ordering guard's records.
 */
export function pullRequestHandlerFor(o: {
  instances: Parameters<typeof createPullRequestHandler>[0]['instances'];
  repos: Record<string, string[]>;
  allowForks?: boolean;
  resetOnPush?: boolean;
  log: Logger;
  store?: MemoryStore;
}) {
  const store = o.store ?? createMemoryStore();
  const clock = systemClock();
  const gate = createRepositoryGate({ repos: o.repos, pins: {}, allowForks: o.allowForks ?? false, store, clock, log: o.log });
  return createPullRequestHandler({
    instances: o.instances, repos: o.repos, gate, pulls: store, clock, allowForks: o.allowForks ?? false, resetOnPush: o.resetOnPush ?? false, log: o.log,
  });
}
