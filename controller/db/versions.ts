import { and, asc, desc, eq, inArray } from 'drizzle-orm';
import type { EngineName, TemplateVersion, VersionStatus } from '../domain/types.js';
import type { Db } from './client.js';
import { templateVersions } from './schema.js';
import type { VersionStore } from './store.js';

type VersionRow = typeof templateVersions.$inferSelect;

const toVersion = (r: VersionRow): TemplateVersion => ({
  ...r,
  engine: r.engine as EngineName,
  status: r.status as VersionStatus,
});

export function createVersionQueries(db: Db): VersionStore {
  return {
    async insertVersion(v) {
      await db.insert(templateVersions).values(v);
    },
    async updateVersion(id, patch) {
      await db.update(templateVersions).set(patch).where(eq(templateVersions.id, id));
    },
    async getVersion(id) {
      const [r] = await db.select().from(templateVersions).where(eq(templateVersions.id, id));
      return r ? toVersion(r) : null;
    },
    async latestReady(template) {
      const [r] = await db
        .select()
        .from(templateVersions)
        .where(and(eq(templateVersions.template, template), eq(templateVersions.status, 'ready')))
        .orderBy(desc(templateVersions.readyAt), desc(templateVersions.createdAt))
        .limit(1);
      return r ? toVersion(r) : null;
    },
    async listVersions(filter = {}) {
      const conds = [];
      if (filter.template) conds.push(eq(templateVersions.template, filter.template));
      if (filter.status) conds.push(inArray(templateVersions.status, filter.status));
      const rows = await db
        .select()
        .from(templateVersions)
        .where(conds.length ? and(...conds) : undefined)
        .orderBy(asc(templateVersions.template), desc(templateVersions.createdAt));
      return rows.map(toVersion);
    },
  };
}
