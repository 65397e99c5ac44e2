import { and, asc, eq, inArray, isNotNull, like, lte, ne, sql } from 'drizzle-orm';
import type { EngineName, InstanceRecord, InstanceStatus } from '../domain/types.js';
import type { Db } from './client.js';
import { instances } from './schema.js';
import { UniqueViolation } from '../domain/errors.js';
import type { InstanceStore } from './store.js';

type InstanceRow = typeof instances.$inferSelect;

const toInstance = (r: InstanceRow): InstanceRecord => ({
  ...r,
  engine: r.engine as EngineName,
  status: r.status as InstanceStatus,
  desired: r.desired as 'present' | 'absent',
});

const UNIQUE = ['instances_owner_template_live', 'instances_name_live', 'instances_port_live'];

/** Drivers wrap a unique violation differently (drizzle nests the driver's error as `cause`). */
function uniqueIndexOf(e: unknown): string | null {
  for (let x: unknown = e; x; x = (x as { cause?: unknown }).cause) {
    const text = `${(x as Error).message ?? ''} ${(x as { constraint_name?: string }).constraint_name ?? ''}`;
    if ((x as { code?: string }).code === '23505' || /unique|duplicate/i.test(text)) {
      const index = UNIQUE.find((i) => text.includes(i));
      if (index) return index;
    }
  }
  return null;
}

const live = ne(instances.status, 'destroyed');
/** LIKE with the prefix's own wildcards escaped. */
const ownerStartsWith = (prefix: string) => like(instances.owner, `${prefix.replace(/[\\%_]/g, '\\$&')}%`);

export function createInstanceQueries(db: Db): InstanceStore {
  const findLive = async (owner: string, template: string) => {
    const [r] = await db.select().from(instances).where(and(eq(instances.owner, owner), eq(instances.template, template), live));
    return r ? toInstance(r) : null;
  };
  return {
    async getOrCreateInstance(rec) {
      let inserted: InstanceRow[];
      try {
        inserted = await db
          .insert(instances)
          .values(rec)
          .onConflictDoNothing({ target: [instances.owner, instances.template], where: sql`status <> 'destroyed'` })
          .returning();
      } catch (e) {
        const index = uniqueIndexOf(e);
        if (index) throw new UniqueViolation(index);
        throw e;
      }
      if (inserted[0]) return { instance: toInstance(inserted[0]), created: true };
      const existing = await findLive(rec.owner, rec.template);
      if (!existing) throw new Error('instance vanished during get-or-create; retry');
      return { instance: existing, created: false };
    },
    findLive,
    async liveByName(name) {
      const [r] = await db.select().from(instances).where(and(eq(instances.name, name), live));
      return r ? toInstance(r) : null;
    },
    async getInstance(id) {
      const [r] = await db.select().from(instances).where(eq(instances.id, id));
      return r ? toInstance(r) : null;
    },
    async updateInstance(id, patch) {
      try {
        await db.update(instances).set(patch).where(eq(instances.id, id));
      } catch (e) {
        const index = uniqueIndexOf(e);
        if (index) throw new UniqueViolation(index);
        throw e;
      }
    },
    async listLive(filter = {}) {
      const conds = [live];
      if (filter.ownerPrefix) conds.push(ownerStartsWith(filter.ownerPrefix));
      if (filter.template) conds.push(eq(instances.template, filter.template));
      if (filter.status) conds.push(inArray(instances.status, filter.status));
      const rows = await db.select().from(instances).where(and(...conds)).orderBy(asc(instances.createdAt));
      return rows.map(toInstance);
    },
    async claimWarm(id, poolOwner, patch) {
      const [r] = await db
        .update(instances)
        .set(patch)
        .where(and(eq(instances.id, id), eq(instances.owner, poolOwner), eq(instances.status, 'ready'), eq(instances.desired, 'present')))
        .returning();
      return r ? toInstance(r) : null;
    },
    async expired(now) {
      const rows = await db
        .select()
        .from(instances)
        .where(and(live, eq(instances.desired, 'present'), eq(instances.protected, false), isNotNull(instances.expiresAt), lte(instances.expiresAt, now)));
      return rows.map(toInstance);
    },
    async livePorts() {
      const rows = await db.select({ port: instances.port }).from(instances).where(and(live, isNotNull(instances.port)));
      return rows.map((r) => r.port as number);
    },
    async countLive(filter) {
      const conds = [live, inArray(instances.status, filter.status)];
      if (filter.ownerPrefix) conds.push(ownerStartsWith(filter.ownerPrefix));
      const [r] = await db.select({ n: sql<number>`count(*)::int` }).from(instances).where(and(...conds));
      return Number(r?.n ?? 0);
    },
    async versionsInUse() {
      const rows = await db.selectDistinct({ v: instances.versionId }).from(instances).where(and(live, isNotNull(instances.versionId)));
      return new Set(rows.map((r) => r.v as string));
    },
  };
}
