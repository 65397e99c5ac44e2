// Authentication towards GitHub: a token, or a GitHub App whose installation on each repository
// is looked up once and whose tokens auth-app renews.
import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/rest';

export interface RepoRef {
  owner: string;
  repo: string;
}

export interface AuthConfig {
  token: string | null;
  appId: string | null;
  privateKey: string | null;
}

const statusOf = (e: unknown): number | undefined => (e as { status?: number } | undefined)?.status;

export type Common = ConstructorParameters<typeof Octokit>[0];

export interface AuthResolver {
  /** The Octokit that acts on `repo`: the token's, or the App's installation on it. */
  get(repo: RepoRef): Promise<Octokit>;
  /** Forgets what it knew of `repo` (after a 401: the App may have been reinstalled). */
  forget(repo: RepoRef): void;
  /** The login comments are written as: the token's user, or `<app slug>[bot]`. */
  login(): Promise<string>;
}

/** Which authenticated Octokit to use for a repository: the token's, or the App installation's. */
export function createAuthResolver(cfg: AuthConfig, common: Common, prepare: (o: Octokit) => Octokit): AuthResolver {
  if (cfg.token) {
    const octokit = prepare(new Octokit({ ...common, auth: cfg.token }));
    let login: Promise<string> | null = null;
    return {
      get: async () => octokit,
      forget: () => {},
      login() {
        login ??= octokit.rest.users.getAuthenticated().then((r) => r.data.login);
        login.catch(() => (login = null));
        return login;
      },
    };
  }
  const appAuth = { appId: cfg.appId as string, privateKey: (cfg.privateKey as string).replace(/\\n/g, '\n') };
  const app = prepare(new Octokit({ ...common, authStrategy: createAppAuth, auth: appAuth }));
  const installationOf = new Map<string, number>();
  // One Octokit per installation: auth-app caches and renews that installation's token itself.
  const byInstallation = new Map<number, Octokit>();
  const key = (r: RepoRef) => `${r.owner}/${r.repo}`.toLowerCase();
  let login: Promise<string> | null = null;
  return {
    login() {
      login ??= app.rest.apps.getAuthenticated().then((r) => `${r.data?.slug}[bot]`);
      login.catch(() => (login = null));
      return login;
    },
    async get(repo: RepoRef): Promise<Octokit> {
      let id = installationOf.get(key(repo));
      if (id === undefined) {
        try {
          ({ id } = (await app.rest.apps.getRepoInstallation({ owner: repo.owner, repo: repo.repo })).data);
        } catch (e) {
          if (statusOf(e) === 404) {
            throw Object.assign(new Error(`the GitHub App ${cfg.appId} is not installed on ${key(repo)}`), { status: 404 });
          }
          throw e;
        }
        installationOf.set(key(repo), id);
      }
      let octokit = byInstallation.get(id);
      if (!octokit) {
        octokit = prepare(new Octokit({ ...common, authStrategy: createAppAuth, auth: { ...appAuth, installationId: id } }));
        byInstallation.set(id, octokit);
      }
      return octokit;
    },
    // A 401 may mean the App was reinstalled under a new installation id: look it up again next time.
    forget(repo: RepoRef) {
      const id = installationOf.get(key(repo));
      installationOf.delete(key(repo));
      if (id !== undefined) byInstallation.delete(id);
    },
  };
}
