// One node's template pool as template shipping reaches it: on this machine (a local mount) or on
// another one through its pool agent (`myaas volume-plugin` with MYAAS_AGENT_LISTEN). The operations
// are named ones on template versions, never "run this program": an agent must not be a remote shell.
import type { Readable } from 'node:stream';

/** A btrfs subvolume as `btrfs subvolume show` describes it. */
export interface SubvolInfo {
  uuid: string;
  receivedUuid: string | null;
  readOnly: boolean;
}

/** What a received stream must turn out to be before it becomes a version. */
export interface ReceiveExpectation {
  /** the UUID the copy must record as received from (the source's received UUID, or its own) */
  origin: string;
  /** the source's file manifest (see PoolAccess.manifest) */
  manifest: string;
}

/** A `btrfs send` in progress: the stream, and its end (rejects with what the sender said). */
export interface SendHandle {
  stream: Readable;
  done: Promise<void>;
}

export interface PoolAccess {
  /** a short name for messages, e.g. node2 */
  name: string;
  /** the template's complete (sealed, read-only) versions on this pool, oldest first */
  versions(template: string): Promise<string[]>;
  /** templates/<template>/<version> as a subvolume, or null when it is not one */
  info(template: string, version: string): Promise<SubvolInfo | null>;
  /** a digest of the version's file tree: path, type, size, mode, owner and mtime of every entry */
  manifest(template: string, version: string): Promise<string>;
  /** starts `btrfs send` of a sealed version, incremental against `parent` when given */
  send(template: string, version: string, parent: string | null): SendHandle;
  /**
   * Receives a send stream into staging, checks it against `expect`, and only then puts it in place
   * sealed as templates/<template>/<version>; nothing half-received is ever left as a version.
   */
  receive(template: string, version: string, stream: Readable, expect: ReceiveExpectation): Promise<void>;
  /** removes a sealed version (no-op when it is not there) */
  remove(template: string, version: string): Promise<void>;
  space(): Promise<{ totalBytes: number; freeBytes: number }>;
}

/** The audience of the tokens a controller signs for pool agents. */
export const AGENT_AUDIENCE = 'myaas-pool-agent';

const NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/** Template and version names as shipping and pool agents accept them. */
export function isShipName(s: string): boolean {
  return NAME.test(s) && !s.includes('..');
}
