import { eq } from 'drizzle-orm';
import type { Db } from './client.js';
import { webhookDeliveries } from './schema.js';
import type { DeliveryStore } from './store.js';

export function createDeliveryQueries(db: Db): DeliveryStore {
  return {
    async deliverySeen(id) {
      const rows = await db.select({ id: webhookDeliveries.id }).from(webhookDeliveries).where(eq(webhookDeliveries.id, id));
      return rows.length > 0;
    },
    async recordDelivery(id) {
      await db.insert(webhookDeliveries).values({ id }).onConflictDoNothing();
    },
  };
}
