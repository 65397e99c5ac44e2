// All state-DB queries. The rest of the controller sees records of domain/types.ts, never SQL.
import { and, asc, desc, eq, inArray, isNotNull, like, lte, ne, sql } from 'drizzle-orm';
import type { EngineName, InstanceRecord, InstanceStatus, TemplateVersion, VersionStatus } from '../domain/types.js';
import type { Db } from './client.js';
import { instances, templateVersions, webhookDeliveries } from './schema.js';

type VersionRow = typeof templateVersions.$inferSelect;
type InstanceRow = typeof instances.$inferSelect;

const toVersion = (r: VersionRow): TemplateVersion => ({
  ...r,
  engine: r.engine as EngineName,
  status: r.status as VersionStatus,
});
const toInstance = (r: InstanceRow): InstanceRecord => ({
  ...r,
  engine: r.engine as EngineName,
  status: r.status as InstanceStatus,
  desired: r.desired as 'present' | 'absent',
});

export type VersionPatch = Partial<Omit<TemplateVersion, 'id'>>;
export type InstancePatch = Partial<Omit<InstanceRecord, 'id'>>;

export function createStore(db: Db) {
  return {
    // --- template versions ---
    async insertVersion(v: TemplateVersion): Promise<void> {
      await db.insert(templateVersions).values(v);
    },
    async updateVersion(id: string, patch: VersionPatch): Promise<void> {
      await db.update(templateVersions).set(patch).where(eq(templateVersions.id, id));
    },
    async getVersion(id: string): Promise<TemplateVersion | null> {
      const [r] = await db.select().from(templateVersions).where(eq(templateVersions.id, id));
      return r ? toVersion(r) : null;
    },
    async versionPhase(id: string): Promise<string | null> {
      const [r] = await db.select({ phase: templateVersions.phase }).from(templateVersions).where(eq(templateVersions.id, id));
      return r?.phase ?? null;
    },
    /** The newest ready version of `template` (its "latest"). */
    async latestReady(template: string): Promise<TemplateVersion | null> {
      const [r] = await db
        .select()
        .from(templateVersions)
        .where(and(eq(templateVersions.template, template), eq(templateVersions.status, 'ready')))
        .orderBy(desc(templateVersions.readyAt), desc(templateVersions.createdAt))
        .limit(1);
      return r ? toVersion(r) : null;
    },
    async listVersions(filter: { template?: string; status?: VersionStatus[] } = {}): Promise<TemplateVersion[]> {
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

    // --- instances ---
    /**
     * Inserts unless a live instance of (owner, template) exists; returns the live one either way.
     * Races between two creators resolve in the unique index, not in application code.
     */
    async getOrCreateInstance(rec: InstanceRecord): Promise<{ instance: InstanceRecord; created: boolean }> {
      const inserted = await db
        .insert(instances)
        .values(rec)
        .onConflictDoNothing({ target: [instances.owner, instances.template], where: sql`status <> 'destroyed'` })
        .returning();
      if (inserted[0]) return { instance: toInstance(inserted[0]), created: true };
      const existing = await this.findLive(rec.owner, rec.template);
      if (!existing) throw new Error('instance vanished during get-or-create; retry');
      return { instance: existing, created: false };
    },
    async findLive(owner: string, template: string): Promise<InstanceRecord | null> {
      const [r] = await db
        .select()
        .from(instances)
        .where(and(eq(instances.owner, owner), eq(instances.template, template), ne(instances.status, 'destroyed')));
      return r ? toInstance(r) : null;
    },
    async liveByName(name: string): Promise<InstanceRecord | null> {
      const [r] = await db.select().from(instances).where(and(eq(instances.name, name), ne(instances.status, 'destroyed')));
      return r ? toInstance(r) : null;
    },
    async getInstance(id: string): Promise<InstanceRecord | null> {
      const [r] = await db.select().from(instances).where(eq(instances.id, id));
      return r ? toInstance(r) : null;
    },
    async updateInstance(id: string, patch: InstancePatch): Promise<void> {
      await db.update(instances).set(patch).where(eq(instances.id, id));
    },
    /** Instances not yet destroyed, oldest first; optionally only those whose owner starts with a prefix. */
    async listLive(ownerPrefix?: string): Promise<InstanceRecord[]> {
      const conds = [ne(instances.status, 'destroyed')];
      if (ownerPrefix) conds.push(like(instances.owner, `${ownerPrefix.replace(/[\\%_]/g, '\\$&')}%`));
      const rows = await db.select().from(instances).where(and(...conds)).orderBy(asc(instances.createdAt));
      return rows.map(toInstance);
    },
    /** Hands warm instance `id` to a new owner if it is still warm and ready; false when someone was first. */
    async claimWarm(id: string, poolOwner: string, patch: InstancePatch): Promise<InstanceRecord | null> {
      const [r] = await db
        .update(instances)
        .set(patch)
        .where(and(eq(instances.id, id), eq(instances.owner, poolOwner), eq(instances.status, 'ready'), eq(instances.desired, 'present')))
        .returning();
      return r ? toInstance(r) : null;
    },
    async listAll(limit = 500): Promise<InstanceRecord[]> {
      const rows = await db.select().from(instances).orderBy(desc(instances.createdAt)).limit(limit);
      return rows.map(toInstance);
    },
    async expired(now: Date): Promise<InstanceRecord[]> {
      const rows = await db
        .select()
        .from(instances)
        .where(and(ne(instances.status, 'destroyed'), eq(instances.desired, 'present'), isNotNull(instances.expiresAt), lte(instances.expiresAt, now)));
      return rows.map(toInstance);
    },
    async livePorts(): Promise<number[]> {
      const rows = await db
        .select({ port: instances.port })
        .from(instances)
        .where(and(ne(instances.status, 'destroyed'), isNotNull(instances.port)));
      return rows.map((r) => r.port as number);
    },
    /** Version ids some live instance still uses. */
    async versionsInUse(): Promise<Set<string>> {
      const rows = await db
        .selectDistinct({ v: instances.versionId })
        .from(instances)
        .where(and(ne(instances.status, 'destroyed'), isNotNull(instances.versionId)));
      return new Set(rows.map((r) => r.v as string));
    },

    // --- webhook deliveries ---
    async firstDelivery(id: string): Promise<boolean> {
      const rows = await db.insert(webhookDeliveries).values({ id }).onConflictDoNothing().returning();
      return rows.length === 1;
    },
    /** Lets a delivery whose handling failed be redelivered. */
    async forgetDelivery(id: string): Promise<void> {
      await db.delete(webhookDeliveries).where(eq(webhookDeliveries.id, id));
    },
  };
}

export type Store = ReturnType<typeof createStore>;
