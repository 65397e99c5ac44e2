// Who is calling: an admin API token, or a GitHub Actions OIDC token (owner key from its claims only).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { AppError } from '../domain/errors.js';
import type { OidcIdentity, OidcVerifier } from '../github/oidc.js';

export type Principal = { kind: 'admin' } | { kind: 'oidc'; identity: OidcIdentity };
export type AuthEnv = { Variables: { principal: Principal } };

const digest = (s: string) => createHash('sha256').update(s).digest();

/** True when `token` is one of the admin API tokens; compares digests in constant time. */
export function adminTokenCheck(apiTokens: string[]): (token: string) => boolean {
  const tokens = apiTokens.map(digest);
  return (token) => {
    const given = digest(token);
    return tokens.some((t) => timingSafeEqual(t, given));
  };
}

export function createAuth(opts: { apiTokens: string[]; oidc: OidcVerifier | null }): MiddlewareHandler<AuthEnv> {
  const isAdmin = adminTokenCheck(opts.apiTokens);
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
    if (m[1].split('.').length === 3 && opts.oidc) {
      c.set('principal', { kind: 'oidc', identity: await opts.oidc.verify(m[1]) });
      return next();
    }
    throw new AppError('unauthorized', opts.oidc ? 'token is neither a known API token nor a valid OIDC token' : 'unknown API token (check MYAAS_API_TOKENS)');
  };
}
