// A database kind. One implementation per engine (postgres.ts, mariadb.ts); see createEngine in index.ts.
// An engine only *describes* commands and speaks its wire protocol; the importer and reconciler
// run the commands through the runtime.
import type { MaskRules } from '../domain/masking.js';
import type { SchemaSnapshot } from '../domain/schema.js';
import type { EngineName } from '../domain/types.js';

export interface EngineConn {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface DatabaseInfo {
  name: string;
  tables: number;
}

/** An open admin connection to one server: for handing a warm instance to its owner without a new login. */
export interface AdminSession {
  /** Sets the admin user's password (the one handed to the instance's owner). */
  setPassword(newPassword: string): Promise<void>;
  close(): Promise<void>;
}

/** An open admin connection to one server that counts its client connections (Engine.clientCounter). */
export interface ClientCounter {
  /** Client connections besides this one, logged in or not. */
  count(): Promise<number>;
  close(): Promise<void>;
}

export interface Engine {
  readonly name: EngineName;
  /** URL scheme of connection strings */
  readonly scheme: 'postgres' | 'mysql';
  /** server port inside the container */
  readonly port: number;
  /** datadir mount point inside the container (as in the official image) */
  readonly dataDir: string;
  /** uid:gid of the server user in the image (999 in the official images) */
  readonly user: string;
  /** superuser handed to the instance's owner */
  readonly adminUser: string;
  /** dump file endings this engine loads, longest first */
  readonly dumpExtensions: readonly string[];
  /** signal that makes the server shut down cleanly and quickly */
  readonly stopSignal: string;
  /** folders outside the datadir its programs write to: each gets a tmpfs in the read-only container */
  readonly scratchDirs: readonly string[];
  /** environment of every container running its programs (e.g. owner-only modes for new files) */
  readonly env: readonly string[];

  /** Files (name → content) put in the import's private staging dir, mounted at `stagingDir`. */
  stagingFiles(adminPassword: string): Record<string, string>;
  /** argv of a one-shot container that initialises an empty datadir. */
  initCommand(stagingDir: string): string[];
  /** Files (path relative to the datadir → content) written after init, before the first start. */
  configFiles(): Record<string, string>;
  /**
   * argv of the server process. Import servers listen only inside the container. `listen` makes an
   * instance server listen on that address and port itself (host networking) instead of the engine's port.
   * `tlsDir` (inside the container) holds server.crt and server.key: the server then offers TLS.
   */
  serverCommand(purpose: 'import' | 'instance', stagingDir: string, listen?: { address: string; port: number }, tlsDir?: string): string[];
  /** exec argv that exits 0 once the server accepts local connections. */
  pingCommand(): string[];
  /** exec argv creating an empty database. */
  createDatabaseCommand(database: string): string[];
  /** exec argv loading a plain SQL file (path inside the container) into `database`, stopping on the first error. */
  loadSqlCommand(file: string, database: string): string[];
  /** exec argv restoring an archive dump (pg_dump -Fc), or null when the engine has none. */
  restoreArchiveCommand(file: string, database: string, jobs: number): string[] | null;
  /** The database a dump is loaded into (a dump may still create and switch to its own). */
  loadDatabase(template: string): string;
  /** exec argv printing the names of user databases, one per line. */
  listDatabasesCommand(): string[];
  /** exec argv printing the number of user relations in `database`. */
  countTablesCommand(database: string): string[];
  /** exec argv dropping a database (used to remove the empty one a self-creating dump left). */
  dropDatabaseCommand(database: string): string[];
  /** exec argv run last before the clean shutdown (e.g. removing local-only accounts), or null. */
  finalizeCommand(): string[] | null;
  /** exec argv renaming a database, or null when the engine cannot. */
  renameDatabaseCommand(from: string, to: string): string[] | null;

  /** Waits (until deadline) for the server on conn to accept the admin secret, then sets a new password. */
  rotatePassword(conn: EngineConn, newPassword: string, deadline: number): Promise<void>;
  /** Waits (until deadline) for the server to accept conn's credentials and keeps the connection open. */
  adminSession(conn: EngineConn, deadline: number): Promise<AdminSession>;
  /** A real authenticated query with the instance's own credentials; throws when it fails. */
  probe(conn: EngineConn, deadline: number): Promise<void>;
  /**
   * How many client connections the server holds besides the asking one (its own background
   * processes left out): zero means nobody uses the instance now (MYAAS_IDLE_SUSPEND).
   */
  clientConnections(conn: EngineConn): Promise<number>;
  /**
   * An admin connection kept open that counts the server's client connections, its own left out, each
   * time it is asked, also those not logged in yet: the last check before a suspension, made while new
   * connections are held off at the port (so it cannot open a connection of its own then).
   */
  clientCounter(conn: EngineConn): Promise<ClientCounter>;
  url(conn: EngineConn): string;

  // Schema diff, masking and schema-only variants (issue 14). Statements are run in order inside
  // `database`: over the wire, or as a file with loadSqlCommand after sqlScript.
  /** The structure of conn's database from the catalogs, system schemas and extension objects left out. */
  readSchema(conn: EngineConn): Promise<SchemaSnapshot>;
  /**
   * [check, apply]: check fails, naming the rules file and every entry that names a missing table or
   * column or a column the strategy cannot write, before anything changed; apply masks the data.
   */
  maskingStatements(rules: MaskRules, database: string): [check: string, apply: string];
  /** Statements that empty every user table of `database`, keeping the schema (the `<template>:schema` variant). */
  emptyTablesStatements(database: string): string[];
  /** exec argv running emptyTablesStatements(database). */
  emptyTablesCommand(database: string): string[];
  /** A file's content that loadSqlCommand runs as exactly these statements, in order, stopping at the first error. */
  sqlScript(statements: string[]): string;
}
