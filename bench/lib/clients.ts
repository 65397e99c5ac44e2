// What a user's test suite does first: connect with a real client to the URL it was given and run an
// authenticated query. postgres.js for postgres://, mysql2 for mysql://.
import mysql from 'mysql2/promise';
import postgres from 'postgres';
import { sleep } from './util.js';

export interface QueryResult {
  /** failed attempts before the one that succeeded (should be 0: the controller probed first) */
  retries: number;
  value: unknown;
}

async function once(url: string, query: string): Promise<unknown> {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const sql = postgres(url, { max: 1, connect_timeout: 5, idle_timeout: 1, prepare: false, onnotice: () => {} });
    try {
      const rows = await sql.unsafe(query);
      return rows[0] ? Object.values(rows[0])[0] : null;
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
  }
  if (url.startsWith('mysql://')) {
    const u = new URL(url);
    const c = await mysql.createConnection({
      host: u.hostname,
      port: Number(u.port),
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      database: decodeURIComponent(u.pathname.slice(1)) || undefined,
      connectTimeout: 5000,
    });
    try {
      const [rows] = await c.query(query);
      const first = (rows as Array<Record<string, unknown>>)[0];
      return first ? Object.values(first)[0] : null;
    } finally {
      await c.end().catch(() => c.destroy());
    }
  }
  throw new Error(`unsupported URL scheme in ${url.split(':')[0]}`);
}

/** One attempt, no retry: what a client that was promised a working URL sees. */
export const queryOnce = (url: string, query: string): Promise<unknown> => once(url, query);

/** An open, authenticated connection that stays open until closed (an instance in use). */
export async function holdConnection(url: string): Promise<{ close(): Promise<void> }> {
  if (url.startsWith('mysql://')) {
    const c = await mysql.createConnection({ uri: url, connectTimeout: 30_000 });
    await c.query('SELECT 1');
    return { close: () => c.end().catch(() => c.destroy()) };
  }
  const sql = postgres(url, { max: 1, connect_timeout: 30, prepare: false, onnotice: () => {} });
  await sql.unsafe('select 1');
  return { close: () => sql.end({ timeout: 1 }).catch(() => {}) };
}

/** Wrong credentials, database or SQL: retrying cannot help. */
function fatal(e: unknown): boolean {
  const code = String((e as { code?: unknown })?.code ?? '');
  return /^(28|3D|42)/.test(code) || code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_BAD_DB_ERROR' || code === 'ER_PARSE_ERROR';
}

/** Runs `query` on a fresh connection to `url`, retrying (every 2 ms) until it succeeds or the deadline passes. */
export async function firstQuery(url: string, query: string, timeoutMs = 30_000): Promise<QueryResult> {
  const deadline = Date.now() + timeoutMs;
  let retries = 0;
  for (;;) {
    try {
      return { retries, value: await once(url, query) };
    } catch (e) {
      if (Date.now() > deadline || fatal(e)) throw e;
      retries++;
      await sleep(2);
    }
  }
}

/** The query a test suite might start with: touches the loaded data, cheaply. */
export function sampleQuery(engine: 'postgres' | 'mariadb'): string {
  return engine === 'postgres' ? 'select count(*) from pgbench_branches' : 'SELECT COUNT(*) FROM customers WHERE id <= 10';
}
