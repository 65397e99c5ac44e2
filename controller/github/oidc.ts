// GitHub Actions OIDC tokens: verification with jose against the issuer's published keys, and the
// mapping from verified claims to an owner key. The owner key comes from the claims only, never from
// a request body, so a workflow can reach nothing but its own pull request's (or run's) instances.
import { createRemoteJWKSet, customFetch, decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import { AppError, messageOf } from '../domain/errors.js';
import { formatOwner, pullOwner, runOwner, type OwnerKey } from '../domain/owner.js';

export interface OidcIdentity {
  /** `owner/repo`, lowercased (GitHub names are case-insensitive; config keys are lowercased) */
  repository: string;
  /** e.g. `refs/pull/12/merge`, `refs/heads/main` */
  ref: string;
  runId: string;
  runAttempt: string;
  sub: string;
  actor?: string;
  /** GitHub's ids of the repository and its owner: names can be re-used, ids cannot */
  repositoryId?: number;
  repositoryOwnerId?: number;
}

export interface OidcVerifier {
  /** Resolves to the token's identity, or rejects with AppError('unauthorized') saying why. */
  verify(token: string): Promise<OidcIdentity>;
}

export interface OidcVerifierOptions {
  /** e.g. `https://token.actions.githubusercontent.com` */
  issuer: string;
  audience: string;
  /** skips discovery when set */
  jwksUrl?: string | null;
  /** for tests and proxies; defaults to the global fetch */
  fetch?: typeof fetch;
}

// GitHub signs with RS256; allowing only asymmetric algorithms keeps `none` and HMAC confusion out.
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384'];
// Runner and controller clocks drift a little; a minute is what GitHub's own examples tolerate.
const CLOCK_TOLERANCE_S = 60;

const REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const DIGITS = /^[0-9]+$/;

export function createOidcVerifier(opts: OidcVerifierOptions): OidcVerifier {
  const issuer = opts.issuer.replace(/\/+$/, '');
  const doFetch = opts.fetch ?? globalThis.fetch;
  // One key set per verifier: jose caches the keys and refetches (with a cooldown) on an unknown kid,
  // which is how GitHub's key rotation reaches us.
  let keys: Promise<ReturnType<typeof createRemoteJWKSet>> | null = null;

  const keySet = () => {
    if (!keys) {
      const pending = jwksUrl(issuer, opts.jwksUrl ?? null, doFetch).then((url) =>
        createRemoteJWKSet(new URL(url), { [customFetch]: doFetch }),
      );
      // A failed discovery must not stick: the issuer may simply have been unreachable for a moment.
      pending.catch(() => {
        if (keys === pending) keys = null;
      });
      keys = pending;
    }
    return keys;
  };

  return {
    async verify(token) {
      const jwks = await keySet();
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, jwks, {
          issuer,
          audience: opts.audience,
          algorithms: ALGORITHMS,
          clockTolerance: CLOCK_TOLERANCE_S,
          requiredClaims: ['exp', 'sub'],
        }));
      } catch (e) {
        throw explain(e, token, issuer, opts.audience);
      }
      return identityOf(payload);
    },
  };
}

async function jwksUrl(issuer: string, configured: string | null, doFetch: typeof fetch): Promise<string> {
  if (configured) return configured;
  const url = `${issuer}/.well-known/openid-configuration`;
  let doc: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const res = await doFetch(url, { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    doc = (await res.json()) as typeof doc;
  } catch (e) {
    throw new AppError('internal', `cannot read the OIDC issuer's discovery document ${url}: ${messageOf(e)}`);
  }
  if (typeof doc.jwks_uri !== 'string') {
    throw new AppError('internal', `the OIDC discovery document ${url} has no jwks_uri`);
  }
  // OpenID Connect Discovery requires the document to name the issuer it was fetched for.
  if (typeof doc.issuer === 'string' && doc.issuer.replace(/\/+$/, '') !== issuer) {
    throw new AppError('internal', `the OIDC discovery document ${url} names issuer ${doc.issuer}, expected ${issuer}`);
  }
  return doc.jwks_uri;
}

/** Turns jose's failure into a message a workflow author can act on. */
function explain(e: unknown, token: string, issuer: string, audience: string): AppError {
  const unauthorized = (msg: string) => new AppError('unauthorized', msg);
  // Unverified claims are used only to word the message; the token is refused either way.
  let claims: JWTPayload = {};
  try {
    claims = decodeJwt(token);
  } catch {
    // not even a JWT: the messages below do not need its claims
  }
  const wrongIssuer = typeof claims.iss === 'string' && claims.iss.replace(/\/+$/, '') !== issuer;
  const issuerMsg = () =>
    unauthorized(`OIDC token issued by ${JSON.stringify(claims.iss)}, but this controller accepts only tokens from ${issuer} (MYAAS_OIDC_ISSUER)`);

  if (e instanceof errors.JWTExpired) {
    const at = typeof claims.exp === 'number' ? ` at ${new Date(claims.exp * 1000).toISOString()}` : '';
    return unauthorized(`OIDC token expired${at}; request a fresh token right before calling the controller`);
  }
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'iss') return issuerMsg();
    if (e.claim === 'aud') {
      return unauthorized(
        `OIDC token audience is ${JSON.stringify(claims.aud ?? null)}, but this controller expects ${JSON.stringify(audience)}: ` +
          `request the token with that audience (the Action's \`audience\` input) or change MYAAS_OIDC_AUDIENCE`,
      );
    }
    if (e.claim === 'nbf') return unauthorized('OIDC token is not valid yet (nbf in the future): check the clocks of runner and controller');
    if (e.reason === 'missing') return unauthorized(`OIDC token lacks the "${e.claim}" claim: is it a GitHub Actions token?`);
    return unauthorized(`OIDC token rejected: ${e.message}`);
  }
  if (e instanceof errors.JWSSignatureVerificationFailed || e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWKSMultipleMatchingKeys) {
    // A token from another issuer is signed with a key we do not know; say so rather than "forged".
    if (wrongIssuer) return issuerMsg();
    return unauthorized(`OIDC token signature does not verify against the keys of ${issuer}: the token is forged or corrupted`);
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return unauthorized(`OIDC token is signed with an algorithm this controller does not accept`);
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) return unauthorized(`bearer token is not a valid JWT: ${e.message}`);
  if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid || !(e instanceof errors.JOSEError)) {
    // Fetching the keys failed: our problem, not the caller's token.
    return new AppError('internal', `cannot fetch the OIDC keys of ${issuer}: ${messageOf(e)}`);
  }
  return unauthorized(`OIDC token rejected: ${e.message}`);
}

function identityOf(p: JWTPayload): OidcIdentity {
  const str = (name: string): string | undefined => (typeof p[name] === 'string' ? (p[name] as string) : undefined);
  const repository = str('repository');
  if (!repository || !REPO.test(repository)) {
    throw new AppError('unauthorized', 'OIDC token has no valid "repository" claim: is it a GitHub Actions token?');
  }
  const ref = str('ref');
  if (!ref) throw new AppError('unauthorized', 'OIDC token has no "ref" claim: is it a GitHub Actions token?');
  // GitHub sends run_id and run_attempt as strings; accept numbers too rather than fail on a detail.
  const runId = String(p.run_id ?? '');
  const runAttempt = String(p.run_attempt ?? '1');
  if (!DIGITS.test(runId)) throw new AppError('unauthorized', 'OIDC token has no valid "run_id" claim: is it a GitHub Actions token?');
  if (!DIGITS.test(runAttempt)) throw new AppError('unauthorized', 'OIDC token has an invalid "run_attempt" claim');
  const identity: OidcIdentity = { repository: repository.toLowerCase(), ref, runId, runAttempt, sub: String(p.sub) };
  const actor = str('actor');
  if (actor) identity.actor = actor;
  const id = (name: string) => (DIGITS.test(String(p[name] ?? '')) ? Number(p[name]) : undefined);
  const repositoryId = id('repository_id');
  const repositoryOwnerId = id('repository_owner_id');
  if (repositoryId !== undefined) identity.repositoryId = repositoryId;
  if (repositoryOwnerId !== undefined) identity.repositoryOwnerId = repositoryOwnerId;
  return identity;
}

const PR_REF = /^refs\/pull\/([0-9]+)\/(?:merge|head)$/;

/**
 * The owner key a verified identity acts as, after checking the repository (and template, if given)
 * against MYAAS_GITHUB_REPOS.
 *
 * A pull request's ref gives `gh:<repo>#<n>`, shared with the webhook-created instance. Anything
 * else is one workflow run: `gh:<repo>@run-<id>-<attempt>`. The attempt is part of the key so that a
 * re-run starts from a fresh instance, never from the data a failed or cancelled attempt left behind
 * (its post step may not have run); the reaper's TTL covers such leftovers.
 */
export function ownerForIdentity(identity: OidcIdentity, repos: Record<string, string[]>, template?: string): OwnerKey {
  const repo = identity.repository.toLowerCase();
  const templates = repos[repo];
  if (!templates) {
    throw new AppError('forbidden', `repository ${repo} is not configured on this controller (MYAAS_GITHUB_REPOS)`);
  }
  if (template !== undefined && !templates.includes(template)) {
    throw new AppError(
      'forbidden',
      `template ${template} is not configured for repository ${repo} (MYAAS_GITHUB_REPOS gives it: ${templates.join(', ') || 'none'})`,
    );
  }
  const pr = PR_REF.exec(identity.ref);
  if (pr) return pullOwner(repo, Number(pr[1]));
  return runOwner(repo, identity.runId, identity.runAttempt);
}

/** A token reaches only instances of exactly its own owner key: no prefixes, no cross-run access. */
export function canAccess(identityOwner: OwnerKey, instanceOwner: string): boolean {
  return formatOwner(identityOwner) === instanceOwner;
}
