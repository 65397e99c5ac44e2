// The Store over drizzle: one module of queries per table.
import type { Db } from './client.js';
import { createDeliveryQueries } from './deliveries.js';
import { createGitHubQueries } from './github.js';
import { createInstanceQueries } from './instances.js';
import type { Store } from './store.js';
import { createVersionQueries } from './versions.js';

export function createStore(db: Db): Store {
  return { ...createVersionQueries(db), ...createInstanceQueries(db), ...createDeliveryQueries(db), ...createGitHubQueries(db) };
}
