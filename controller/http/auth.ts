// Who is calling: an admin API token, a metrics token (Prometheus: /metrics and nothing else), or a
// GitHub Actions OIDC token of a configured repository (its owner key comes from the claims only).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { AppError } from '../domain/errors.js';
import type { OidcIdentity, OidcVerifier } from '../github/oidc.js';
import type { RepositoryGate } from '../github/repository-gate.js';

export type Principal =
  | { kind: 'admin' }
  | { kind: 'metrics' }
  | { kind: 'oidc'; identity: OidcIdentity; templates: string[] };
export type AuthEnv = { Variables: { principal: Principal } };

const digest = (s: string) => createHash('sha256').update(s).digest();

/** A check of a token against a list, comparing digests in constant time. */
export function adminTokenCheck(apiTokens: string[]): (token: string) => boolean {
  const tokens = apiTokens.map(digest);
  return (token) => {
    const given = digest(token);
    return tokens.some((t) => timingSafeEqual(t, given));
  };
}

export interface AuthOptions {
  apiTokens: string[];
  metricsTokens: string[];
  oidc: OidcVerifier | null;
  /** configured repositories and their pinned ids: a token of any other repository gets 403 everywhere */
  gate: Pick<RepositoryGate, 'admit'>;
}

export function createAuth(opts: AuthOptions): MiddlewareHandler<AuthEnv> {
  const isAdmin = adminTokenCheck(opts.apiTokens);
  const isMetrics = adminTokenCheck(opts.metricsTokens);
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) {
      throw new AppError('unauthorized', 'missing "Authorization: Bearer <token>": use an API token from MYAAS_API_TOKENS or a GitHub Actions OIDC token');
    }
    if (isAdmin(m[1])) {
      c.set('principal', { kind: 'admin' });
      return next();
    }
    if (isMetrics(m[1])) {
      if (!/\/metrics$/.test(c.req.path)) throw new AppError('forbidden', 'a metrics token (MYAAS_METRICS_TOKENS) reads /api/v1/metrics and nothing else');
      c.set('principal', { kind: 'metrics' });
      return next();
    }
    if (m[1].split('.').length === 3 && opts.oidc) {
      const identity = await opts.oidc.verify(m[1]);
      // Any workflow on GitHub can mint a token for our audience: only configured repositories get further.
      const templates = await opts.gate.admit({
        name: identity.repository, repoId: identity.repositoryId ?? null, ownerId: identity.repositoryOwnerId ?? null,
      });
      c.set('principal', { kind: 'oidc', identity, templates });
      return next();
    }
    throw new AppError('unauthorized', opts.oidc ? 'token is neither a known API token nor a valid OIDC token' : 'unknown API token (check MYAAS_API_TOKENS)');
  };
}
