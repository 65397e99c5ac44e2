// What the integration tests need from the machine. Missing pieces fail the tests (never skip):
// run `sudo scripts/setup-host.sh` to provide them.
import { execFile } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { promisify } from 'node:util';

export const run = promisify(execFile);

export const IMAGES = {
  postgres: process.env.MYAAS_TEST_POSTGRES_IMAGE ?? 'myaas-local/postgres:15',
  mariadb: process.env.MYAAS_TEST_MARIADB_IMAGE ?? 'myaas-local/mariadb:10.11',
};
export const POOLS = {
  btrfs: process.env.MYAAS_TEST_BTRFS_DIR ?? '/var/lib/myaas',
  xfs: process.env.MYAAS_TEST_XFS_DIR ?? '/var/lib/myaas-xfs',
};
/** The bundled Chinook sample (samples/chinook), gzipped SQL for each engine. */
export const CHINOOK_GZ = {
  postgres: fileURLToPath(new URL('../../samples/chinook/postgres.sql.gz', import.meta.url)),
  mysql: fileURLToPath(new URL('../../samples/chinook/mysql.sql.gz', import.meta.url)),
};

/** The Chinook dump as plain SQL text. */
export async function chinookSql(kind: 'postgres' | 'mysql'): Promise<Buffer> {
  return gunzipSync(await readFile(CHINOOK_GZ[kind]));
}

const FS_MAGIC: Record<string, number> = { btrfs: 0x9123683e, xfs: 0x58465342 };

/** Throws with what to do unless `dir` is on the `kind` filesystem. */
export function requirePool(dir: string, kind: 'btrfs' | 'xfs'): void {
  let type: number;
  try {
    type = statfsSync(dir).type;
  } catch {
    throw new Error(`${dir} does not exist: the ${kind} test pool is missing; run sudo scripts/setup-host.sh`);
  }
  if (type !== FS_MAGIC[kind]) throw new Error(`${dir} is not a ${kind} pool; run sudo scripts/setup-host.sh`);
}

/** Throws unless Docker answers and the local engine images exist. */
export async function requireDocker(): Promise<void> {
  try {
    await run('docker', ['info', '--format', '{{.ServerVersion}}']);
  } catch (e) {
    throw new Error(`Docker is not reachable (${(e as Error).message.split('\n')[0]}); run sudo scripts/setup-host.sh`);
  }
  for (const image of Object.values(IMAGES)) {
    try {
      await run('docker', ['image', 'inspect', image]);
    } catch {
      throw new Error(`image ${image} is missing; run sudo scripts/setup-host.sh to build it`);
    }
  }
}

/** Runs a real client; resolves with trimmed stdout, rejects with stderr. */
export async function psql(url: string, sql: string): Promise<string> {
  const { stdout } = await run('psql', [url, '-X', '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql], { timeout: 30_000 });
  return stdout.trim();
}

export async function mariadb(url: string, sql: string): Promise<string> {
  const u = new URL(url);
  const { stdout } = await run(
    'mariadb',
    ['-h', u.hostname, '-P', u.port, '-u', decodeURIComponent(u.username), `-p${decodeURIComponent(u.password)}`, '-N', '-B', '-e', sql, decodeURIComponent(u.pathname.slice(1))],
    { timeout: 30_000 },
  );
  return stdout.trim();
}

/** Polls fn until it returns something truthy; throws naming `what` after `ms`. */
export async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
