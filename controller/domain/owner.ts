// Who an instance belongs to. The one place owner keys are built and read; every other module works
// with the OwnerKey value. The text form is what the state DB stores, so it must never change shape:
//   gh:<owner>/<repo>#<n>               a pull request
//   gh:<owner>/<repo>@run-<id>[-<n>]    a workflow run (attempt n)
//   api:<name>                          a person or script with an API token
//   pool:<instance id>                  the warm pool, until the instance is claimed
import { AppError } from './errors.js';

export type OwnerKey =
  | { kind: 'pull'; repo: string; number: number }
  | { kind: 'run'; repo: string; runId: string; attempt: string | null }
  | { kind: 'api'; name: string }
  | { kind: 'pool'; id: string };

export type OwnerKind = OwnerKey['kind'];

const REPO = /^[a-z0-9_.-]+\/[a-z0-9_.-]+$/;
const PULL = /^gh:([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+)#([0-9]{1,10})$/;
const RUN = /^gh:([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+)@run-([0-9]{1,20})(?:-([0-9]{1,6}))?$/;
const API = /^api:([A-Za-z0-9_.@-]{1,64})$/;
const POOL = /^pool:([a-z][a-z0-9]{1,47})$/;

/** GitHub names are case-insensitive: keys always carry the lowercase `owner/repo`. */
export function normaliseRepo(repo: string): string {
  const r = repo.trim().toLowerCase();
  if (!REPO.test(r)) throw new AppError('bad_request', `invalid repository ${JSON.stringify(repo)}: use owner/repo`);
  return r;
}

export const pullOwner = (repo: string, number: number): OwnerKey => ({ kind: 'pull', repo: normaliseRepo(repo), number });
export const runOwner = (repo: string, runId: string, attempt: string | null): OwnerKey => ({ kind: 'run', repo: normaliseRepo(repo), runId, attempt });
export const apiOwner = (name: string): OwnerKey => ({ kind: 'api', name });
export const poolOwner = (id: string): OwnerKey => ({ kind: 'pool', id });

export function formatOwner(k: OwnerKey): string {
  switch (k.kind) {
    case 'pull':
      return `gh:${k.repo}#${k.number}`;
    case 'run':
      return `gh:${k.repo}@run-${k.runId}${k.attempt ? `-${k.attempt}` : ''}`;
    case 'api':
      return `api:${k.name}`;
    case 'pool':
      return `pool:${k.id}`;
  }
}

/** The key of a stored owner string, or null when it is not one of the four forms. */
export function parseOwner(s: string): OwnerKey | null {
  let m = PULL.exec(s);
  if (m) return { kind: 'pull', repo: m[1].toLowerCase(), number: Number(m[2]) };
  m = RUN.exec(s);
  if (m) return { kind: 'run', repo: m[1].toLowerCase(), runId: m[2], attempt: m[3] ?? null };
  m = API.exec(s);
  if (m) return { kind: 'api', name: m[1] };
  m = POOL.exec(s);
  if (m) return { kind: 'pool', id: m[1] };
  return null;
}

/** Parses and validates an owner key given as text (e.g. by an admin), throwing a 400 otherwise. */
export function assertOwner(s: unknown): OwnerKey {
  const k = typeof s === 'string' ? parseOwner(s) : null;
  if (!k) {
    throw new AppError(
      'bad_request',
      `invalid owner key ${JSON.stringify(s)}: use gh:<owner>/<repo>#<pr>, gh:<owner>/<repo>@run-<id>[-<attempt>] or api:<name>`,
    );
  }
  return k;
}

export const sameOwner = (a: OwnerKey, b: OwnerKey): boolean => formatOwner(a) === formatOwner(b);

/** The repository an owner key belongs to, if any. */
export function repoOf(k: OwnerKey): string | null {
  return k.kind === 'pull' || k.kind === 'run' ? k.repo : null;
}

/** Text prefix shared by the keys of every pull request of `repo` (for listing them in the state DB). */
export const pullPrefix = (repo: string): string => `gh:${normaliseRepo(repo)}#`;
export const POOL_PREFIX = 'pool:';

/** A short, stable tag of a text (FNV-1a, base 36): keeps shortened names of different owners apart. */
export function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36).padStart(7, '0').slice(-6);
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-+|-+$/g, '');
const MAX_NAME = 48;

/**
 * Default instance name of an owner and template, unique per owner: pull requests and runs carry their
 * repository (`octo-app-pr-12-chinook`), so the same number in two repositories never collides. A name
 * longer than 48 characters keeps its end and gets a tag of the whole owner key instead of the rest.
 */
export function defaultInstanceName(owner: OwnerKey, template: string): string {
  let prefix = '';
  let base: string;
  switch (owner.kind) {
    case 'pull':
      prefix = slug(owner.repo);
      base = `pr-${owner.number}`;
      break;
    case 'run':
      prefix = slug(owner.repo);
      base = `run-${owner.runId}${owner.attempt ? `-${owner.attempt}` : ''}`;
      break;
    case 'api':
      base = slug(owner.name) || 'instance';
      break;
    case 'pool':
      base = `warm-${owner.id}`;
      break;
  }
  const tail = `${base}-${slug(template)}`;
  const whole = prefix ? `${prefix}-${tail}` : tail;
  if (whole.length <= MAX_NAME) return whole;
  const tag = shortHash(`${formatOwner(owner)} ${template}`);
  const room = MAX_NAME - tag.length - 1;
  const kept = prefix ? `${prefix.slice(0, Math.max(0, room - tail.length - 1))}-${tail}`.replace(/^-+/, '') : tail;
  return `${kept.slice(Math.max(0, kept.length - room)).replace(/^-+/, '')}-${tag}`.replace(/^-+/, '');
}
