import { and, eq } from 'drizzle-orm';
import type { PullRequestRecord, RepositoryRecord } from '../domain/github.js';
import type { Db } from './client.js';
import { pullRequests, repositories } from './schema.js';
import type { GitHubStore } from './store.js';

export function createGitHubQueries(db: Db): GitHubStore {
  return {
    async getPullRequest(repo, number) {
      const [r] = await db.select().from(pullRequests).where(and(eq(pullRequests.repo, repo), eq(pullRequests.number, number)));
      return r ? { ...r, state: r.state as PullRequestRecord['state'] } : null;
    },
    async savePullRequest(p) {
      const { repo, number, ...rest } = p;
      await db.insert(pullRequests).values(p).onConflictDoUpdate({ target: [pullRequests.repo, pullRequests.number], set: rest });
    },
    async getRepository(name) {
      const [r] = await db.select().from(repositories).where(eq(repositories.name, name));
      return r ?? null;
    },
    async pinRepository(r: RepositoryRecord) {
      await db.insert(repositories).values(r).onConflictDoNothing();
      const [now] = await db.select().from(repositories).where(eq(repositories.name, r.name));
      return now;
    },
    async touchRepository(name, patch) {
      await db.update(repositories).set(patch).where(eq(repositories.name, name));
    },
    async forgetRepository(name) {
      const rows = await db.delete(repositories).where(eq(repositories.name, name)).returning({ name: repositories.name });
      return rows.length > 0;
    },
  };
}

