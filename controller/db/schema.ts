// The controller's own state. Changes here need `npm run db:generate` (drizzle-kit) to add a migration.
import { sql } from 'drizzle-orm';
import { bigint, index, integer, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const templateVersions = pgTable(
  'template_versions',
  {
    id: text('id').primaryKey(),
    template: text('template').notNull(),
    engine: text('engine').notNull(),
    status: text('status').notNull(),
    image: text('image').notNull(),
    database: text('database'),
    adminPassword: text('admin_password').notNull(),
    sizeBytes: bigint('size_bytes', { mode: 'number' }),
    error: text('error'),
    /** what the import is doing now, for progress reports */
    phase: text('phase'),
    createdAt: ts('created_at').notNull().defaultNow(),
    readyAt: ts('ready_at'),
  },
  (t) => [index('template_versions_template_idx').on(t.template, t.createdAt)],
);

export const instances = pgTable(
  'instances',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    owner: text('owner').notNull(),
    template: text('template').notNull(),
    engine: text('engine').notNull(),
    versionId: text('version_id'),
    pinnedVersionId: text('pinned_version_id'),
    status: text('status').notNull(),
    desired: text('desired').notNull().default('present'),
    port: integer('port'),
    password: text('password').notNull(),
    containerId: text('container_id'),
    error: text('error'),
    generation: integer('generation').notNull().default(0),
    appliedGeneration: integer('applied_generation').notNull().default(0),
    expiresAt: ts('expires_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
    readyAt: ts('ready_at'),
    destroyedAt: ts('destroyed_at'),
  },
  (t) => [
    // Get-or-create is safe under races: only one live instance per (owner, template), name and port.
    uniqueIndex('instances_owner_template_live').on(t.owner, t.template).where(sql`status <> 'destroyed'`),
    uniqueIndex('instances_name_live').on(t.name).where(sql`status <> 'destroyed'`),
    uniqueIndex('instances_port_live').on(t.port).where(sql`status <> 'destroyed' and port is not null`),
    index('instances_status_idx').on(t.status),
  ],
);

export const webhookDeliveries = pgTable('webhook_deliveries', {
  id: text('id').primaryKey(),
  receivedAt: ts('received_at').notNull().defaultNow(),
});

export const schema = { templateVersions, instances, webhookDeliveries };
