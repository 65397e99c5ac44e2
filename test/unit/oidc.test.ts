import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../controller/domain/errors.js';
import { assertOwner, formatOwner } from '../../controller/domain/owner.js';
import { canAccess, createOidcVerifier, ownerForIdentity, type OidcIdentity } from '../../controller/github/oidc.js';
import { pullRequestClaims, pushClaims, startOidcIssuer, type TestOidcIssuer } from '../helpers/oidc-issuer.js';

const repos = { 'octo/app': ['chinook', 'sakila'], 'octo/other': ['chinook'] };

async function rejection(p: Promise<unknown>): Promise<AppError> {
  const e = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AppError);
  return e as AppError;
}

function thrown(fn: () => unknown): AppError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error('expected a throw');
}

describe('OIDC verification', () => {
  let iss: TestOidcIssuer;
  let other: TestOidcIssuer;

  beforeAll(async () => {
    iss = await startOidcIssuer();
    other = await startOidcIssuer();
  });
  afterAll(async () => {
    await iss?.close();
    await other?.close();
  });

  it('verifies a pull request token through discovery and maps it to the pull request owner key', async () => {
    const verifier = createOidcVerifier({ issuer: iss.issuer, audience: 'myaas' });
    const token = await iss.mint({ claims: pullRequestClaims('Octo/App', 12, '9001', '2') });
    const id = await verifier.verify(token);
    expect(id).toEqual({
      repository: 'octo/app',
      ref: 'refs/pull/12/merge',
      runId: '9001',
      runAttempt: '2',
      sub: 'repo:Octo/App:pull_request',
      actor: 'octocat',
      repositoryId: 100001,
      repositoryOwnerId: 200002,
    });
    expect(formatOwner(ownerForIdentity(id, repos))).toBe('gh:octo/app#12');
    expect(formatOwner(ownerForIdentity(id, repos, 'sakila'))).toBe('gh:octo/app#12');
    expect(formatOwner(ownerForIdentity({ ...id, ref: 'refs/pull/12/head' }, repos))).toBe('gh:octo/app#12');
  });

  it('maps a push token to the run (and attempt) owner key', async () => {
    const verifier = createOidcVerifier({ issuer: iss.issuer, audience: 'myaas', jwksUrl: iss.jwksUrl });
    const id = await verifier.verify(await iss.mint({ claims: pushClaims('octo/app', '555', '3') }));
    expect(id.ref).toBe('refs/heads/main');
    expect(formatOwner(ownerForIdentity(id, repos, 'chinook'))).toBe('gh:octo/app@run-555-3');
    // a branch named like a pull request ref is not one
    expect(formatOwner(ownerForIdentity({ ...id, ref: 'refs/heads/refs/pull/1/merge' }, repos))).toBe('gh:octo/app@run-555-3');
  });

  it('caches the keys across verifications', async () => {
    const verifier = createOidcVerifier({ issuer: iss.issuer, audience: 'myaas' });
    const before = iss.jwksFetches;
    for (let i = 0; i < 3; i++) await verifier.verify(await iss.mint());
    expect(iss.jwksFetches - before).toBe(1);
  });

  it('refuses an expired token', async () => {
    const verifier = createOidcVerifier({ issuer: iss.issuer, audience: 'myaas' });
    const e = await rejection(verifier.verify(await iss.mint({ expiresIn: -3600 })));
    expect(e.code).toBe('unauthorized');
    expect(e.status).toBe(401);
    expect(e.message).toMatch(/expired at \d{4}-/);
  });

  it('refuses a token for another audience and names the expected one', async () => {
    const verifier = createOidcVerifier({ issuer: iss.issuer, audience: 'myaas' });
    const e = await rejection(verifier.verify(await iss.mint({ audience: 'https://github.com/octo' })));
    expect(e.code).toBe('unauthorized');
    expect(e.message).toContain('"https://github.com/octo"');
    expect(e.message).toContain('expects "myaas"');
  });

  it('refuses a forged token (signed by a key not in the JWKS)', async () => {
    const verifier = createOidcVerifier({ issuer: iss.issuer, audience: 'myaas' });
    const e = await rejection(verifier.verify(await iss.mint({ forged: true })));
    expect(e.code).toBe('unauthorized');
    expect(e.message).toMatch(/signature does not verify.*forged/);
  });

  it('refuses a token of another issuer, whether signed by it or claiming it', async () => {
    const verifier = createOidcVerifier({ issuer: iss.issuer, audience: 'myaas' });
    const fromOther = await rejection(verifier.verify(await other.mint()));
    expect(fromOther.code).toBe('unauthorized');
    expect(fromOther.message).toContain(`issued by "${other.issuer}"`);
    expect(fromOther.message).toContain(`only tokens from ${iss.issuer}`);
    const claimsOther = await rejection(verifier.verify(await iss.mint({ issuer: 'https://evil.example' })));
    expect(claimsOther.code).toBe('unauthorized');
    expect(claimsOther.message).toContain('issued by "https://evil.example"');
  });

  it('refuses garbage and tokens without GitHub claims', async () => {
    const verifier = createOidcVerifier({ issuer: iss.issuer, audience: 'myaas' });
    expect((await rejection(verifier.verify('not-a-jwt'))).code).toBe('unauthorized');
    const noRepo = await rejection(verifier.verify(await iss.mint({ claims: { repository: undefined } })));
    expect(noRepo.code).toBe('unauthorized');
    expect(noRepo.message).toContain('"repository"');
  });

  it('reports an unreachable issuer as the controller’s problem and retries discovery later', async () => {
    const failing: typeof fetch = async () => {
      throw new TypeError('fetch failed');
    };
    let calls = 0;
    const flaky: typeof fetch = async (input, init) => (++calls === 1 ? failing(input, init) : fetch(input, init));
    const verifier = createOidcVerifier({ issuer: iss.issuer, audience: 'myaas', fetch: flaky });
    const token = await iss.mint();
    const e = await rejection(verifier.verify(token));
    expect(e.code).toBe('internal');
    expect(e.message).toContain('/.well-known/openid-configuration');
    expect((await verifier.verify(token)).repository).toBe('octo/app');
  });
});

describe('owner keys and access', () => {
  const id: OidcIdentity = { repository: 'octo/app', ref: 'refs/pull/7/merge', runId: '1', runAttempt: '1', sub: 's' };

  it('refuses a repository that is not configured', () => {
    const e = thrown(() => ownerForIdentity({ ...id, repository: 'evil/app' }, repos));
    expect(e.code).toBe('forbidden');
    expect(e.status).toBe(403);
    expect(e.message).toBe('repository evil/app is not configured on this controller (MYAAS_GITHUB_REPOS)');
  });

  it('refuses a template the repository is not configured for', () => {
    const e = thrown(() => ownerForIdentity({ ...id, repository: 'octo/other' }, repos, 'sakila'));
    expect(e.code).toBe('forbidden');
    expect(e.message).toContain('template sakila is not configured for repository octo/other');
    expect(e.message).toContain('chinook');
  });

  it('lets a token reach only its own owner key', () => {
    expect(canAccess(assertOwner('gh:octo/app#7'), 'gh:octo/app#7')).toBe(true);
    expect(canAccess(assertOwner('gh:octo/app#7'), 'gh:octo/app#70')).toBe(false);
    expect(canAccess(assertOwner('gh:octo/app#7'), 'gh:octo/other#7')).toBe(false);
    expect(canAccess(assertOwner('gh:octo/app@run-5-1'), 'gh:octo/app@run-5-2')).toBe(false);
  });
});
