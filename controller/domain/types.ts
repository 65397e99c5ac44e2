// The words of DESIGN.md as types. Pure data: nothing here performs I/O.

export const ENGINE_NAMES = ['postgres', 'mariadb'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export const STORAGE_NAMES = ['btrfs', 'zfs', 'reflink', 'copy'] as const;
export type StorageName = (typeof STORAGE_NAMES)[number];

// suspended: idle for MYAAS_IDLE_SUSPEND, its server stopped and its clone kept; a client's connection wakes it.
export const INSTANCE_STATUSES = ['queued', 'provisioning', 'ready', 'retrying', 'suspended', 'failed', 'destroying', 'destroyed'] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

export const VERSION_STATUSES = ['importing', 'ready', 'failed', 'retired'] as const;
export type VersionStatus = (typeof VERSION_STATUSES)[number];

/** A template version as stored: one import of a template. */
export interface TemplateVersion {
  id: string;
  template: string;
  engine: EngineName;
  status: VersionStatus;
  image: string;
  /** the database inside the datadir that holds the data */
  database: string | null;
  /** admin secret of the datadir; rotated away in every instance */
  adminPassword: string;
  sizeBytes: number | null;
  error: string | null;
  /** what a running import is doing now */
  phase?: string | null;
  /** the dump's size and modification time when it was imported */
  dumpFingerprint?: string | null;
  /** its schema (JSON of domain/schema.ts SchemaSnapshot), read once when a diff first needs it */
  schemaSnapshot?: string | null;
  createdAt: Date;
  readyAt: Date | null;
}

/** An instance as stored. `password` never leaves the controller except to its owner. */
export interface InstanceRecord {
  id: string;
  name: string;
  owner: string;
  template: string;
  engine: EngineName;
  versionId: string | null;
  /** pinned version: reset goes back to this one instead of latest */
  pinnedVersionId: string | null;
  status: InstanceStatus;
  /** the status the owner asked for: present or absent */
  desired: 'present' | 'absent';
  port: number | null;
  password: string;
  containerId: string | null;
  /** where its server is, on a cluster runtime: the node's address (null on one host: MYAAS_PUBLIC_HOST) */
  host: string | null;
  error: string | null;
  /** bumped by reset: the reconciler rebuilds the clone when it differs from appliedGeneration */
  generation: number;
  appliedGeneration: number;
  /** failed attempts (or crashes) in a row */
  attempts: number;
  /** status retrying: when the next attempt is due */
  retryAt: Date | null;
  /** the last fault of a running instance (a crash, an out-of-memory kill), told to its owner */
  lastFault: string | null;
  /** never expires while its owner lives (`/myaas protect`) */
  protected: boolean;
  /** why it was destroyed without its owner asking: `expired` */
  endReason: string | null;
  /** its schema against its template version's (JSON of domain/schema.ts SchemaDiff), when last asked */
  schemaDiff: string | null;
  schemaDiffAt: Date | null;
  expiresAt: Date | null;
  createdAt: Date;
  readyAt: Date | null;
  destroyedAt: Date | null;
}

/** How to reach an instance's server. */
export interface Connection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** postgres://… or mysql://… */
  url: string;
}

/** An instance as the outside sees it: the record, when its data was taken, how to reach it (once ready). */
export interface InstanceView {
  instance: InstanceRecord;
  /** when the instance's template version finished importing */
  dataAsOf: Date | null;
  connection: Connection | null;
}

/** A template with its versions (newest first) and the id of its latest ready one. */
export interface TemplateSummary {
  name: string;
  engine: EngineName;
  latest: string | null;
  versions: TemplateVersion[];
}

/** How long each step of bringing an instance up took. */
export interface ProvisionTimings {
  cloneMs: number;
  startMs: number;
  rotateMs: number;
  probeMs: number;
  totalMs: number;
}

/** A new instance's record: what the caller decides, and the fresh state of everything else. */
export function newInstanceRecord(
  r: Pick<InstanceRecord, 'id' | 'name' | 'owner' | 'template' | 'engine' | 'password' | 'status' | 'createdAt'> & Partial<InstanceRecord>,
): InstanceRecord {
  return {
    versionId: null, pinnedVersionId: null, desired: 'present', port: null, containerId: null, host: null, error: null, generation: 0,
    appliedGeneration: 0, attempts: 0, retryAt: null, lastFault: null, protected: false, endReason: null, schemaDiff: null,
    schemaDiffAt: null, expiresAt: null, readyAt: null, destroyedAt: null, ...r,
  };
}
