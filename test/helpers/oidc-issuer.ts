// A local stand-in for GitHub Actions' OIDC issuer (discovery document + JWKS) and for the runner's
// token request endpoint (ACTIONS_ID_TOKEN_REQUEST_URL), so tests verify real signed tokens and the
// bundled Action fetches its token exactly as it does on a runner.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';

export interface MintOptions {
  /** claims merged over GitHub-shaped defaults (see pushClaims / pullRequestClaims) */
  claims?: Record<string, unknown>;
  /** `aud`; defaults to the issuer's default audience */
  audience?: string;
  /** seconds from now until `exp`; negative gives an already expired token (default 300) */
  expiresIn?: number;
  /** sign with a key that is not in the JWKS (same `kid`): a forged token */
  forged?: boolean;
  /** `iss` to put in the token instead of this issuer's URL */
  issuer?: string;
}

export interface TestOidcIssuer {
  /** the issuer URL (`iss`), e.g. http://127.0.0.1:40123 */
  issuer: string;
  jwksUrl: string;
  /** what the runner puts in ACTIONS_ID_TOKEN_REQUEST_URL (already carries a query, as GitHub's does) */
  tokenRequestUrl: string;
  /** what the runner puts in ACTIONS_ID_TOKEN_REQUEST_TOKEN */
  tokenRequestToken: string;
  /** claims of the tokens the runner endpoint hands out; tests set it per scenario */
  runnerClaims: Record<string, unknown>;
  /** every request the runner endpoint received, with the audience it asked for */
  tokenRequests: { audience: string | null; authorized: boolean }[];
  /** how many times the JWKS was fetched (key caching is observable) */
  jwksFetches: number;
  mint(opts?: MintOptions): Promise<string>;
  /** env a runner step gets for OIDC: ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN */
  runnerEnv(): Record<string, string>;
  close(): Promise<void>;
}

/** Claims GitHub puts in a token of a workflow run triggered by a push. */
export function pushClaims(repository: string, runId = '4242', runAttempt = '1'): Record<string, unknown> {
  return {
    ...common(repository, runId, runAttempt),
    sub: `repo:${repository}:ref:refs/heads/main`,
    ref: 'refs/heads/main',
    ref_type: 'branch',
    event_name: 'push',
    head_ref: '',
    base_ref: '',
  };
}

/** Claims GitHub puts in a token of a `pull_request` workflow run. */
export function pullRequestClaims(repository: string, pr: number, runId = '4343', runAttempt = '1'): Record<string, unknown> {
  return {
    ...common(repository, runId, runAttempt),
    sub: `repo:${repository}:pull_request`,
    ref: `refs/pull/${pr}/merge`,
    ref_type: 'branch',
    event_name: 'pull_request',
    head_ref: 'feature',
    base_ref: 'main',
  };
}

function common(repository: string, runId: string, runAttempt: string) {
  const [owner] = repository.split('/');
  return {
    jti: randomUUID(),
    repository,
    repository_owner: owner,
    repository_id: '100001',
    repository_owner_id: '200002',
    repository_visibility: 'private',
    actor: 'octocat',
    actor_id: '583231',
    run_id: runId,
    run_number: '7',
    run_attempt: runAttempt,
    sha: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4',
    workflow: 'CI',
    workflow_ref: `${repository}/.github/workflows/ci.yml@refs/heads/main`,
    job_workflow_ref: `${repository}/.github/workflows/ci.yml@refs/heads/main`,
    runner_environment: 'github-hosted',
  };
}

export async function startOidcIssuer(opts: { audience?: string } = {}): Promise<TestOidcIssuer> {
  const defaultAudience = opts.audience ?? 'myaas';
  const kid = `test-${randomUUID().slice(0, 8)}`;
  const real = await generateKeyPair('RS256', { extractable: true });
  const forger = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(real.publicKey)), kid, alg: 'RS256', use: 'sig' };
  const requestToken = `runner-${randomUUID()}`;

  const sign = async (key: CryptoKey, claims: JWTPayload, expiresIn: number) => {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + expiresIn;
    // An expired token was also issued in the past, as a real one would have been.
    const iat = Math.min(now, exp - 300);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(exp)
      .sign(key);
  };

  const issuer: TestOidcIssuer = {
    issuer: '',
    jwksUrl: '',
    tokenRequestUrl: '',
    tokenRequestToken: requestToken,
    runnerClaims: pushClaims('octo/app'),
    tokenRequests: [],
    jwksFetches: 0,
    async mint(o = {}) {
      const claims = { ...pushClaims('octo/app'), ...o.claims, iss: o.issuer ?? issuer.issuer, aud: o.audience ?? defaultAudience };
      return sign(o.forged ? forger.privateKey : real.privateKey, claims, o.expiresIn ?? 300);
    },
    runnerEnv() {
      return { ACTIONS_ID_TOKEN_REQUEST_URL: issuer.tokenRequestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken };
    },
    close: async () => {},
  };

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', issuer.issuer);
    if (req.method !== 'GET') return json(res, 405, { message: 'method not allowed' });
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(res, 200, {
        issuer: issuer.issuer,
        jwks_uri: issuer.jwksUrl,
        subject_types_supported: ['public', 'pairwise'],
        response_types_supported: ['id_token'],
        id_token_signing_alg_values_supported: ['RS256'],
        claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'ref', 'repository', 'run_id', 'run_attempt', 'actor'],
        scopes_supported: ['openid'],
      });
    }
    if (url.pathname === '/.well-known/jwks') {
      issuer.jwksFetches++;
      return json(res, 200, { keys: [jwk] });
    }
    if (url.pathname === '/_runner/idtoken') {
      // The runner's endpoint: bearer ACTIONS_ID_TOKEN_REQUEST_TOKEN, audience as a query parameter.
      const authorized = req.headers.authorization === `Bearer ${requestToken}`;
      const audience = url.searchParams.get('audience');
      issuer.tokenRequests.push({ audience, authorized });
      if (!authorized) return json(res, 401, { message: 'bad runner token' });
      const owner = String(issuer.runnerClaims.repository_owner ?? 'octo');
      // Without an audience GitHub uses the repository owner's URL, which a controller would refuse.
      const value = await issuer.mint({ claims: issuer.runnerClaims, audience: audience ?? `https://github.com/${owner}` });
      return json(res, 200, { count: 1, value });
    }
    json(res, 404, { message: 'not found' });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => json(res, 500, { message: String(e) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer.issuer = base;
  issuer.jwksUrl = `${base}/.well-known/jwks`;
  issuer.tokenRequestUrl = `${base}/_runner/idtoken?api-version=2.0`;
  issuer.close = () =>
    new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((e) => (e ? reject(e) : resolve()));
    });
  return issuer;
}
