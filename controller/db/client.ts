// Opens the state DB: PostgreSQL through postgres.js when DATABASE_URL is set, else PGlite in the data dir.
// Migrations from migrations/ are applied on open.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { schema } from './schema.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface StateDb {
  db: Db;
  kind: 'pglite' | 'postgres';
  close(): Promise<void>;
}

/** migrations/ at the package root, found from this file whether run from source or from build/. */
export function migrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'migrations', 'meta', '_journal.json'))) return join(dir, 'migrations');
    dir = resolve(dir, '..');
  }
  throw new Error('migrations/ not found next to the controller: reinstall the package');
}

export async function openStateDb(opts: { databaseUrl: string | null; pgliteDir: string }): Promise<StateDb> {
  const migrationsFolder = migrationsDir();
  if (opts.databaseUrl) {
    const { default: postgres } = await import('postgres');
    const { drizzle } = await import('drizzle-orm/postgres-js');
    const { migrate } = await import('drizzle-orm/postgres-js/migrator');
    const client = postgres(opts.databaseUrl, { max: 5, onnotice: () => {}, connect_timeout: 10 });
    const db = drizzle(client, { schema });
    try {
      await migrate(db, { migrationsFolder });
    } catch (e) {
      await client.end({ timeout: 1 });
      throw new Error(`cannot open the state DB at DATABASE_URL: ${(e as Error).message}`);
    }
    return { db: db as unknown as Db, kind: 'postgres', close: () => client.end({ timeout: 5 }) };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  mkdirSync(opts.pgliteDir, { recursive: true });
  const client = new PGlite(opts.pgliteDir);
  const db = drizzle(client, { schema });
  await migrate(db, { migrationsFolder });
  return { db: db as unknown as Db, kind: 'pglite', close: () => client.close() };
}
