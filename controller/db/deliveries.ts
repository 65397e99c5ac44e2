import { eq } from 'drizzle-orm';
import type { Db } from './client.js';
import { webhookDeliveries } from './schema.js';
import type { DeliveryStore } from './store.js';

export function createDeliveryQueries(db: Db): DeliveryStore {
  return {
    async firstDelivery(id) {
      const rows = await db.insert(webhookDeliveries).values({ id }).onConflictDoNothing().returning();
      return rows.length === 1;
    },
    async forgetDelivery(id) {
      await db.delete(webhookDeliveries).where(eq(webhookDeliveries.id, id));
    },
  };
}
