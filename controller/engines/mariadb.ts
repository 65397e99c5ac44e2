// MariaDB (speaks MySQL): mariadb-install-db/mariadb inside the engine's image, mysql2 on the wire.
import mysql from 'mysql2/promise';
import type { Engine, EngineConn } from './engine.js';
import type { Clock } from '../lib/clock.js';
import { isTransientConnectionError } from '../lib/net-errors.js';
import { assertSafeSecret, setPasswordOnce, untilConnected } from './conn-retry.js';
import { mariadbMaskingStatements } from './mariadb-masking.js';
import { mariadbEmptyTablesStatement, readMariadbSchema } from './mariadb-schema.js';

// Compound statements (BEGIN NOT ATOMIC … END) hold semicolons: the client must split on something
// else, which no statement may contain (names and the masking salt end up in them).
function script(statements: string[]): string {
  let delimiter = '$myaas$';
  for (let i = 1; statements.some((s) => s.includes(delimiter)); i++) delimiter = `$myaas${i}$`;
  return `DELIMITER ${delimiter}\n${statements.map((s) => `${s}\n${delimiter}\n`).join('')}DELIMITER ;\n`;
}

const DATA = '/var/lib/mysql';
const SOCKET = '/tmp/mysqld.sock';
// --no-defaults must come first: the image's my.cnf (bind-address, paths) must not decide for us.
const CLIENT = ['mariadb', '--no-defaults', `--socket=${SOCKET}`, '-uroot', '--default-character-set=utf8mb4'];
const SERVER = [
  'mariadbd', '--no-defaults', `--datadir=${DATA}`, `--socket=${SOCKET}`, '--port=3306', '--pid-file=/tmp/mariadbd.pid',
  '--skip-name-resolve', '--character-set-server=utf8mb4', '--collation-server=utf8mb4_general_ci',
  '--performance-schema=OFF', '--innodb-buffer-pool-load-at-startup=OFF', '--innodb-buffer-pool-dump-at-shutdown=OFF',
];
// Import only: the version is discarded if the import server dies, so skip per-commit flushing.
const IMPORT = ['--skip-networking', '--innodb-flush-log-at-trx-commit=0', '--innodb-buffer-pool-size=256M', '--max-allowed-packet=1G'];
// Development instance defaults. The temporary tablespace starts at 1 MB and grows by 1 MB instead of
// being written out at 12 MB (then 64 MB steps) on every start: blocks a copy-on-write clone would own.
// Small caches keep an idle server under 40 MB.
const INSTANCE = [
  '--bind-address=0.0.0.0', '--innodb-buffer-pool-size=32M', '--max-connections=50',
  '--innodb-temp-data-file-path=ibtmp1:1M:autoextend', '--innodb-autoextend-increment=1', '--innodb-log-buffer-size=1M', '--key-buffer-size=1M',
  '--aria-pagecache-buffer-size=1M', '--table-open-cache=200', '--table-definition-cache=400', '--thread-cache-size=4',
];

const ident = (s: string) => `\`${s.replace(/`/g, '``')}\``;
const literal = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

// Client connections besides the asking one; the server's own threads (InnoDB purge, the event
// scheduler …) show as 'system user' or Daemon.
const CLIENTS =
  "SELECT COUNT(*) AS n FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND user NOT IN ('system user', 'event_scheduler') AND command NOT IN ('Daemon', 'Binlog Dump')";

function isRetryable(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return code === 'ER_SERVER_SHUTDOWN' || code === 'ER_CON_COUNT_ERROR' || isTransientConnectionError(e);
}

function connect(conn: EngineConn): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: conn.host,
    port: conn.port,
    user: conn.user,
    password: conn.password,
    database: conn.database || undefined,
    connectTimeout: 5000,
  });
}

async function withClient<T>(conn: EngineConn, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await connect(conn);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => c.destroy());
  }
}

export function createMariadbEngine(clock: Clock): Engine {
  return {
    name: 'mariadb',
    scheme: 'mysql',
    port: 3306,
    dataDir: DATA,
    user: '999:999',
    adminUser: 'root',
    dumpExtensions: ['.sql.gz', '.sql'],
    stopSignal: 'SIGTERM',
    scratchDirs: ['/tmp', '/run/mysqld'],
    // mariadbd makes files 0660 and folders 0700 unless told: group-readable by gid 999, which is a
    // host group too (systemd-journal on Debian). Owner-only, like PostgreSQL.
    env: ['UMASK=0600', 'UMASK_DIR=0700'],

    // Runs before the import server accepts connections: the admin account for the network, no anonymous
    // users, and root@localhost for our commands over the socket (the import server has no network). A
    // fresh datadir has that account already; a finished version's (cut into its schema-only variant) has
    // not, as finalizeCommand removed it, which removes it again before sealing.
    stagingFiles: (adminPassword) => ({
      'init.sql': [
        "DELETE FROM mysql.global_priv WHERE User = '';",
        `CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '${assertSafeSecret(adminPassword)}';`,
        "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;",
        "CREATE USER IF NOT EXISTS 'root'@'localhost';",
        "GRANT ALL PRIVILEGES ON *.* TO 'root'@'localhost' WITH GRANT OPTION;",
        'FLUSH PRIVILEGES;',
        '',
      ].join('\n'),
    }),
    initCommand: () => [
      'mariadb-install-db', '--no-defaults', `--datadir=${DATA}`, '--auth-root-authentication-method=normal',
      '--skip-test-db', '--skip-name-resolve',
    ],
    configFiles: () => ({}),
    serverCommand: (purpose, staging, listen, tlsDir) => {
      if (purpose === 'import') return [...SERVER, ...IMPORT, `--init-file=${staging}/init.sql`];
      // TLS is offered, not required: clients choose (mariadb --ssl, mysql2's ssl option).
      const tls = tlsDir ? [`--ssl-cert=${tlsDir}/server.crt`, `--ssl-key=${tlsDir}/server.key`] : [];
      // Later options win in mariadbd, so these override the defaults in SERVER and INSTANCE.
      return [...SERVER, ...INSTANCE, ...tls, ...(listen ? [`--port=${listen.port}`, `--bind-address=${listen.address}`] : [])];
    },
    pingCommand: () => [...CLIENT, '-N', '-B', '-e', 'SELECT 1'],
    loadDatabase: (template) => template,
    createDatabaseCommand: (db) => [...CLIENT, '-e', `CREATE DATABASE ${ident(db)}`],
    // The file is read by the client inside the container. Without --abort-source-on-error, `source`
    // reports an error, goes on with the next statement and exits 0.
    loadSqlCommand: (file, db) => [...CLIENT, '--batch', '--abort-source-on-error', db, '-e', `source ${file}`],
    restoreArchiveCommand: () => null,
    listDatabasesCommand: () => [
      ...CLIENT, '-N', '-B', '-e',
      "SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN ('mysql','information_schema','performance_schema','sys') ORDER BY 1",
    ],
    countTablesCommand: (db) => [
      ...CLIENT, '-N', '-B', '-e', `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ${literal(db)}`,
    ],
    dropDatabaseCommand: (db) => [...CLIENT, '-e', `DROP DATABASE ${ident(db)}`],
    // mariadb-install-db made passwordless root accounts for localhost, 127.0.0.1, ::1 and the container's
    // name; they served the import over the socket. Left in place, they would take TCP logins from
    // 127.0.0.1 (host networking) ahead of root@'%'. The instance's owner needs only root@'%'.
    finalizeCommand: () => [...CLIENT, '-e', "DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> '%'; FLUSH PRIVILEGES;"],
    renameDatabaseCommand: () => null,

    rotatePassword(conn, newPassword, deadline) {
      return setPasswordOnce(this.adminSession(conn, deadline), newPassword);
    },
    adminSession: (conn, deadline) =>
      untilConnected(clock, 'connecting as the admin user', deadline, isRetryable, async () => {
        const c = await connect({ ...conn, database: '' });
        return {
          setPassword: async (pw: string) => {
            await c.query(`ALTER USER 'root'@'%' IDENTIFIED BY '${assertSafeSecret(pw)}'`);
          },
          close: () => c.end().catch(() => c.destroy()),
        };
      }),
    probe: (conn, deadline) =>
      untilConnected(clock, 'the readiness query', deadline, isRetryable, () =>
        withClient(conn, async (c) => {
          const [rows] = await c.query('SELECT 1 AS ok');
          if ((rows as Array<{ ok: number }>)[0]?.ok !== 1) throw new Error('readiness query returned no row');
        }),
      ),
    clientConnections: (conn) =>
      withClient({ ...conn, database: '' }, async (c) => {
        const [rows] = await c.query(CLIENTS);
        return Number((rows as Array<{ n: number | string }>)[0]?.n ?? 0);
      }),
    // Connections still logging in show as 'unauthenticated user' and are counted.
    async clientCounter(conn) {
      const c = await connect({ ...conn, database: '' });
      c.on('error', () => undefined); // the server going away while it is open is no news
      return {
        count: async () => {
          const [rows] = await c.query(CLIENTS);
          return Number((rows as Array<{ n: number | string }>)[0]?.n ?? 0);
        },
        close: () => c.end().catch(() => c.destroy()),
      };
    },
    readSchema: readMariadbSchema,
    maskingStatements: (rules, db) => mariadbMaskingStatements(rules, db),
    emptyTablesStatements: (db) => [mariadbEmptyTablesStatement(db)],
    emptyTablesCommand: (db) => [...CLIENT, '--batch', db, '-e', script([mariadbEmptyTablesStatement(db)])],
    sqlScript: script,
    url: (c) =>
      `mysql://${encodeURIComponent(c.user)}:${encodeURIComponent(c.password)}@${c.host}:${c.port}/${encodeURIComponent(c.database)}`,
  };
}
