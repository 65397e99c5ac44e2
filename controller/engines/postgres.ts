// PostgreSQL: initdb/psql/pg_restore inside the engine's image, postgres.js on the wire.
import postgres from 'postgres';
import type { Engine, EngineConn } from './engine.js';
import type { Clock } from '../lib/clock.js';
import { isTransientConnectionError } from '../lib/net-errors.js';
import { assertSafeSecret, setPasswordOnce, untilConnected } from './conn-retry.js';
import { postgresMaskingStatements } from './postgres-masking.js';
import { POSTGRES_EMPTY_TABLES, readPostgresSchema } from './postgres-schema.js';

const DATA = '/var/lib/postgresql/data';
const SOCKET = '/tmp';
const ADMIN = 'postgres';
const PSQL = ['psql', '-X', '-q', '-h', SOCKET, '-U', ADMIN, '-v', 'ON_ERROR_STOP=1'];

// Settings for the throwaway import server only: a crash mid-import discards the version anyway,
// and the clean shutdown at the end writes everything out.
const IMPORT_SETTINGS = [
  'fsync=off', 'full_page_writes=off', 'synchronous_commit=off', 'wal_level=minimal', 'max_wal_senders=0',
  'max_wal_size=4GB', 'checkpoint_timeout=1h', 'maintenance_work_mem=256MB', 'listen_addresses=',
  // No autovacuum while loading: the final VACUUM (FREEZE) does it once, and an autovacuum worker's
  // transaction running beside it would keep it from marking the freshly loaded pages all-visible.
  'autovacuum=off',
];
// Development instance defaults: small memory footprint, durable (fsync stays as in the template).
// On a copy-on-write clone, zero-filling or recycling WAL segments only copies blocks for nothing.
const INSTANCE_SETTINGS = ['listen_addresses=*', 'shared_buffers=32MB', 'max_connections=50', 'wal_init_zero=off', 'wal_recycle=off'];

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

function isRetryable(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  // 57P03: the database system is starting up (or shutting down for the import's restart).
  return code === '57P03' || isTransientConnectionError(e);
}

function client(conn: EngineConn, idleTimeout: number): postgres.Sql {
  return postgres({
    host: conn.host,
    port: conn.port,
    user: conn.user,
    password: conn.password,
    database: conn.database,
    max: 1,
    connect_timeout: 5,
    idle_timeout: idleTimeout,
    prepare: false,
    // We send only untyped statements; skipping postgres.js's type lookup saves a catalog query per login.
    fetch_types: false,
    onnotice: () => {},
  });
}

async function withClient<T>(conn: EngineConn, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = client(conn, 1);
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/**
 * Connections to local port `port` in /proc/net/tcp{,6} tables (`sl local rem st …` lines, ports in
 * hex): established, or half-open (SYN_RECV). A server's listening socket and closing ones are not counted.
 */
export function tcpConnectionsTo(port: number, tables: string[]): number {
  let n = 0;
  for (const table of tables) {
    for (const line of table.split('\n')) {
      const [, local, , st] = line.trim().split(/\s+/);
      if (!local?.includes(':') || (st !== '01' && st !== '03')) continue;
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) n++;
    }
  }
  return n;
}

export function createPostgresEngine(clock: Clock): Engine {
  return {
    name: 'postgres',
    scheme: 'postgres',
    port: 5432,
    dataDir: DATA,
    user: '999:999',
    adminUser: ADMIN,
    dumpExtensions: ['.sql.gz', '.sql', '.dump'],
    stopSignal: 'SIGINT', // "fast" shutdown: disconnect clients, checkpoint, exit cleanly
    scratchDirs: [SOCKET, '/run/postgresql'],
    // PostgreSQL creates its files owner-only (0600/0700) by itself.
    env: [],

    stagingFiles: (adminPassword) => ({ pwfile: `${assertSafeSecret(adminPassword)}\n` }),
    initCommand: (staging) => [
      'initdb', '-D', DATA, '-U', ADMIN, `--pwfile=${staging}/pwfile`, '-E', 'UTF8', '--locale=C.UTF-8',
      '--auth-local=trust', '--auth-host=scram-sha-256', '--no-instructions',
    ],
    // Only the container itself can use the socket; everything over TCP needs a password.
    configFiles: () => ({
      'pg_hba.conf': ['local all all trust', 'host all all all scram-sha-256', ''].join('\n'),
    }),
    serverCommand: (purpose, _staging, listen, tlsDir) => {
      const settings = purpose === 'import' ? IMPORT_SETTINGS : INSTANCE_SETTINGS;
      const port = String(listen?.port ?? 5432);
      const address = listen ? [`listen_addresses=${listen.address === '0.0.0.0' ? '*' : listen.address}`] : [];
      // TLS is offered, not required: clients choose with sslmode (require, verify-ca, verify-full).
      const tls = tlsDir ? ['ssl=on', `ssl_cert_file=${tlsDir}/server.crt`, `ssl_key_file=${tlsDir}/server.key`] : [];
      return ['postgres', '-D', DATA, '-p', port, '-c', `unix_socket_directories=${SOCKET}`, ...[...settings, ...address, ...tls].flatMap((s) => ['-c', s])];
    },
    pingCommand: () => [...PSQL, '-d', 'postgres', '-Atc', 'select 1'],
    loadDatabase: () => 'myaas_load',
    createDatabaseCommand: (db) => [...PSQL, '-d', 'postgres', '-c', `CREATE DATABASE ${ident(db)}`],
    loadSqlCommand: (file, db) => [...PSQL, '-d', db, '-f', file],
    restoreArchiveCommand: (file, db, jobs) => [
      'pg_restore', '-h', SOCKET, '-U', ADMIN, '-d', db, '-j', String(jobs), '--no-owner', '--no-privileges', '--exit-on-error', file,
    ],
    listDatabasesCommand: () => [
      ...PSQL, '-d', 'postgres', '-Atc',
      "select datname from pg_database where datallowconn and datname not in ('postgres','template0','template1') order by 1",
    ],
    countTablesCommand: (db) => [
      ...PSQL, '-d', db, '-Atc',
      "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r','p','v','m','f') and n.nspname not in ('pg_catalog','information_schema') and n.nspname not like 'pg_toast%'",
    ],
    dropDatabaseCommand: (db) => [...PSQL, '-d', 'postgres', '-c', `DROP DATABASE ${ident(db)}`],
    // Frozen and analysed before sealing: a freshly loaded table has no hint bits, no visibility map
    // and no statistics, so every clone's autovacuum would rewrite all of it (copy-on-write: a private
    // copy of the template's data per instance, a minute after it starts). Done once here instead.
    finalizeCommand: () => ['vacuumdb', '-h', SOCKET, '-U', ADMIN, '--all', '--freeze', '--analyze', '--quiet'],
    renameDatabaseCommand: (from, to) => [...PSQL, '-d', 'postgres', '-c', `ALTER DATABASE ${ident(from)} RENAME TO ${ident(to)}`],

    rotatePassword(conn, newPassword, deadline) {
      return setPasswordOnce(this.adminSession(conn, deadline), newPassword);
    },
    adminSession: (conn, deadline) =>
      untilConnected(clock, 'connecting as the admin user', deadline, isRetryable, async () => {
        // On the template's own database: the first backend there builds its catalog cache files,
        // so the owner's first connection (and our probe) start faster.
        const sql = client({ ...conn, database: conn.database || 'postgres' }, 0);
        try {
          // The password change need not wait for a WAL flush: a crash that lost it would also lose
          // the instance's readiness, and the reconciler rebuilds such an instance.
          await sql`set synchronous_commit to off`;
        } catch (e) {
          await sql.end({ timeout: 0 }).catch(() => {});
          throw e;
        }
        return {
          setPassword: async (pw: string) => {
            await sql.unsafe(`ALTER ROLE ${ident(conn.user)} WITH PASSWORD '${assertSafeSecret(pw)}'`);
          },
          close: () => sql.end({ timeout: 1 }).catch(() => {}),
        };
      }),
    probe: (conn, deadline) =>
      untilConnected(clock, 'the readiness query', deadline, isRetryable, () =>
        withClient(conn, async (sql) => {
          const rows = await sql`select 1 as ok`;
          if (rows[0]?.ok !== 1) throw new Error('readiness query returned no row');
        }),
      ),
    // Client backends only: autovacuum, the checkpointer, walwriter … are other backend types.
    clientConnections: (conn) =>
      withClient({ ...conn, database: conn.database || 'postgres' }, async (sql) => {
        const rows = await sql`select count(*)::int as n from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()`;
        return Number(rows[0]?.n ?? 0);
      }),
    // Over TCP, in the server's own network namespace: /proc/net/tcp lists every connection to its port,
    // those still in the listen queue or logging in (not in pg_stat_activity yet) included.
    async clientCounter(conn) {
      const sql = client({ ...conn, database: conn.database || 'postgres' }, 0);
      const ask = () => sql`
        select inet_server_port() as port, pg_read_file('/proc/net/tcp') as v4,
               case when (pg_stat_file('/proc/net/tcp6', true)).size is not null then pg_read_file('/proc/net/tcp6') end as v6`;
      try {
        await ask();
      } catch (e) {
        await sql.end({ timeout: 0 }).catch(() => {});
        throw e;
      }
      return {
        count: async () => {
          const [row] = await ask();
          // Its own connection is one of them.
          return tcpConnectionsTo(Number(row?.port), [String(row?.v4 ?? ''), String(row?.v6 ?? '')]) - 1;
        },
        close: () => sql.end({ timeout: 1 }).catch(() => {}),
      };
    },
    readSchema: readPostgresSchema,
    // psql runs the statements on a connection to the database the import made.
    maskingStatements: (rules) => postgresMaskingStatements(rules),
    emptyTablesStatements: () => [POSTGRES_EMPTY_TABLES],
    emptyTablesCommand: (db) => [...PSQL, '-d', db, '-c', POSTGRES_EMPTY_TABLES],
    // Terse errors: the message without the PL/pgSQL CONTEXT lines, which would push it out of the import's error tail.
    sqlScript: (statements) => `\\set VERBOSITY terse\n${statements.map((s) => `${s};\n`).join('')}`,
    url: (c) =>
      `postgres://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${c.host}:${c.port}/${encodeURIComponent(c.database)}`,
  };
}
