// The leader lock: a PostgreSQL session-level advisory lock, held on a connection of its own.
// PostgreSQL releases it when the session ends, so a controller that dies (kill -9, a lost machine
// once the server's TCP keepalives give up on it) lets a standby take over.
//
// Key: the first 8 bytes of sha256('myaas-leader'), as a signed bigint. Advisory locks belong to one
// database, so every deployment whose state is one database (DATABASE_URL) elects its own leader;
// two deployments must not share one state database anyway.
import { createHash } from 'node:crypto';
import type { ActiveController } from '../domain/leader.js';

export interface LeaderLock {
  /** pg_try_advisory_lock: true when this process holds the lock now (and has recorded itself as the active one) */
  tryAcquire(): Promise<boolean>;
  /**
   * Records this process as the active one (done by tryAcquire too, unless the state DB was not
   * migrated yet: then again once the controller has opened it).
   */
  record(): Promise<void>;
  /** Rejects unless the lock is still held on the same session (asked within `timeoutMs`). */
  check(timeoutMs: number): Promise<void>;
  /** Called once if the lock's connection closes while the lock is held. */
  onLost(fn: (reason: string) => void): void;
  /** The controller holding the lock now, as it recorded itself; null when none does (or it cannot be told). */
  active(): Promise<ActiveController | null>;
  /** Ends the session: releases the lock if held. */
  close(): Promise<void>;
}

export const LEADER_NAMESPACE = 'myaas-leader';

/** The advisory lock key: sha256(namespace), first 8 bytes, signed. */
export function leaderKey(namespace = LEADER_NAMESPACE): bigint {
  return createHash('sha256').update(namespace).digest().readBigInt64BE(0);
}

export interface LeaderLockOptions {
  databaseUrl: string;
  /** what this process records about itself when it wins */
  me: Omit<ActiveController, 'since'>;
  namespace?: string;
}

export async function openLeaderLock(opts: LeaderLockOptions): Promise<LeaderLock> {
  const { default: postgres } = await import('postgres');
  const key = leaderKey(opts.namespace);
  // pg_locks shows a bigint key as classid (high 32 bits), objid (low 32 bits), objsubid 1.
  const hi = String((BigInt.asUintN(64, key) >> 32n) & 0xffffffffn);
  const lo = String(BigInt.asUintN(64, key) & 0xffffffffn);
  let heldOn: number | null = null; // backend pid of the session that holds the lock
  let closing = false;
  let lost: ((reason: string) => void) | null = null;
  const sql = postgres(opts.databaseUrl, {
    max: 1,
    // One session for as long as the process lives: never recycled (the lock would go with it).
    idle_timeout: 0,
    max_lifetime: 0,
    connect_timeout: 5,
    keep_alive: 5,
    onnotice: () => {},
    connection: {
      application_name: `myaas leader lock (pid ${process.pid})`,
      // The server's side of the socket: a client that vanished without closing it (a lost
      // machine) is given up after about 5 + 2 × 3 = 11 s, which releases its lock.
      tcp_keepalives_idle: '5',
      tcp_keepalives_interval: '2',
      tcp_keepalives_count: '3',
    } as Record<string, string>,
    onclose: () => {
      if (heldOn === null || closing) return;
      heldOn = null;
      const fn = lost;
      lost = null;
      fn?.('the connection that holds the leader lock closed');
    },
  });
  const heldQuery = () => sql<{ pid: number; held: boolean }[]>`
    select pg_backend_pid() as pid, exists (
      select 1 from pg_locks where locktype = 'advisory' and granted and pid = pg_backend_pid()
        and classid = ${hi}::oid and objid = ${lo}::oid and objsubid = 1
    ) as held`;

  const record = async () => {
    if (heldOn === null) throw new Error('the leader lock is not held');
    await sql`
      insert into controller_leader (id, url, host, pid, backend_pid, since)
      values (1, ${opts.me.url}, ${opts.me.host}, ${opts.me.pid}, ${heldOn}, now())
      on conflict (id) do update set url = excluded.url, host = excluded.host, pid = excluded.pid,
        backend_pid = excluded.backend_pid, since = excluded.since`;
  };

  return {
    async tryAcquire() {
      const [r] = await sql<{ ok: boolean; pid: number }[]>`select pg_try_advisory_lock(${String(key)}::bigint) as ok, pg_backend_pid() as pid`;
      if (!r.ok) return false;
      heldOn = r.pid;
      await record().catch((e: { code?: string }) => {
        // A database no controller has migrated yet has no table: the lock holds all the same.
        if (e.code !== '42P01') throw e;
      });
      return true;
    },
    record,
    async check(timeoutMs) {
      if (heldOn === null) throw new Error('the leader lock is not held');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the state DB did not answer the leader lock's check within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const [r] = await Promise.race([heldQuery(), timeout]);
        if (r.pid !== heldOn) throw new Error('the connection that held the leader lock was replaced (the session and its lock are gone)');
        if (!r.held) throw new Error('the leader lock is no longer held by this session');
      } finally {
        clearTimeout(timer);
      }
    },
    onLost(fn) {
      lost = fn;
    },
    async active() {
      const rows = await sql<{ url: string; host: string; pid: number; since: Date; live: boolean }[]>`
        select l.url, l.host, l.pid, l.since, exists (
          select 1 from pg_locks k where k.locktype = 'advisory' and k.granted and k.pid = l.backend_pid
            and k.classid = ${hi}::oid and k.objid = ${lo}::oid and k.objsubid = 1
        ) as live
        from controller_leader l where l.id = 1`.catch(() => []);
      const r = rows[0];
      return r?.live ? { url: r.url, host: r.host, pid: r.pid, since: new Date(r.since).toISOString() } : null;
    },
    async close() {
      closing = true;
      heldOn = null;
      await sql.end({ timeout: 2 });
    },
  };
}
