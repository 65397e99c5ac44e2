// Throwaway containers of the benchmark (data set builds, alternatives, the floor), labelled so that
// they are found and removed again, also after a crashed run.
import type { ContainerSpec, Runtime } from '../../controller/runtime/runtime.js';
import { createRuntime } from '../../controller/runtime/index.js';
import { sleep } from './util.js';

export const BENCH_LABEL = 'myaas.bench';
export const PID_LABEL = 'myaas.bench.pid';
export const SERVER_USER = '999:999';

export function benchRuntime(): Runtime {
  return createRuntime('docker', { dockerHost: process.env.DOCKER_HOST ?? null });
}

export function labels(role: string): Record<string, string> {
  return { [BENCH_LABEL]: 'true', [PID_LABEL]: String(process.pid), 'myaas.bench.role': role };
}

export type Spec = Omit<ContainerSpec, 'labels' | 'user'> & { role: string; user?: string };

export async function start(rt: Runtime, spec: Spec): Promise<{ id: string; hostPort: number | null }> {
  const { role, ...rest } = spec;
  return rt.start({ user: SERVER_USER, ...rest, labels: labels(role) });
}

/** Runs a one-shot container to completion and removes it; throws with its output on failure. */
export async function runToExit(rt: Runtime, spec: Spec, timeoutMs = 600_000): Promise<void> {
  const { id } = await start(rt, spec);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await rt.inspect(id);
      if (info && !info.running) {
        if (info.exitCode !== 0) throw new Error(`${spec.cmd.join(' ')} exited ${info.exitCode}: ${(await rt.logs(id, 20)).trim()}`);
        return;
      }
      if (Date.now() > deadline) throw new Error(`${spec.cmd[0]} did not finish in ${timeoutMs / 1000} s`);
      await sleep(100);
    }
  } finally {
    await rt.remove(id);
  }
}

/** Runs argv inside a container; resolves with stdout, throws with stderr on a non-zero exit. */
export async function execOk(rt: Runtime, id: string, argv: string[], user = SERVER_USER): Promise<string> {
  const r = await rt.exec(id, argv, { user });
  if (r.exitCode !== 0) {
    const why = (r.stderr || r.stdout).trim().split('\n').slice(-8).join('\n');
    throw new Error(`${argv.slice(0, 3).join(' ')} … exited ${r.exitCode}: ${why}`);
  }
  return r.stdout;
}

/** Polls argv inside the container until it exits 0 (a server accepting local connections). */
export async function waitExecOk(rt: Runtime, id: string, argv: string[], timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await rt.exec(id, argv, { user: SERVER_USER }).catch((e: Error) => ({ exitCode: -1, stdout: '', stderr: e.message }));
    if (r.exitCode === 0) return;
    const info = await rt.inspect(id);
    if (!info?.running) throw new Error(`server container exited: ${(await rt.logs(id, 20)).trim()}`);
    if (Date.now() > deadline) throw new Error(`server not ready after ${timeoutMs / 1000} s: ${r.stderr.trim()}`);
    await sleep(100);
  }
}

/** Removes the bench containers of this process, or of processes that no longer exist. */
export async function removeBenchContainers(rt: Runtime, which: 'mine' | 'stale'): Promise<number> {
  let n = 0;
  for (const c of await rt.list({ [BENCH_LABEL]: 'true' })) {
    const pid = Number(c.labels[PID_LABEL]);
    const mine = pid === process.pid;
    if (which === 'mine' ? mine : !mine && !alive(pid)) {
      await rt.remove(c.id);
      n++;
    }
  }
  return n;
}

export function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Engine-specific commands of the throwaway servers. The alternatives get a server tuned for bulk
// loading (no fsync, large maintenance memory): their best case, so the ratios err in their favour.
export const PG = {
  data: '/var/lib/postgresql/data',
  psql: (db: string) => ['psql', '-X', '-q', '-h', '/tmp', '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-d', db],
  init: () => ['initdb', '-D', '/var/lib/postgresql/data', '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-instructions'],
  server: () => [
    'postgres', '-D', '/var/lib/postgresql/data', '-c', 'unix_socket_directories=/tmp', '-c', 'listen_addresses=*',
    ...['fsync=off', 'full_page_writes=off', 'synchronous_commit=off', 'wal_level=minimal', 'max_wal_senders=0',
      'max_wal_size=4GB', 'checkpoint_timeout=1h', 'maintenance_work_mem=256MB', 'shared_buffers=256MB'].flatMap((s) => ['-c', s]),
  ],
  ping: () => ['psql', '-X', '-h', '/tmp', '-U', 'postgres', '-d', 'postgres', '-Atc', 'select 1'],
};

export const MY = {
  data: '/var/lib/mysql',
  client: ['mariadb', '--no-defaults', '--socket=/tmp/mysqld.sock', '-uroot'],
  init: () => ['mariadb-install-db', '--no-defaults', '--datadir=/var/lib/mysql', '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve'],
  server: () => [
    'mariadbd', '--no-defaults', '--datadir=/var/lib/mysql', '--socket=/tmp/mysqld.sock', '--port=3306', '--pid-file=/tmp/mariadbd.pid',
    '--skip-name-resolve', '--character-set-server=utf8mb4', '--collation-server=utf8mb4_general_ci', '--performance-schema=OFF',
    '--skip-networking', '--innodb-flush-log-at-trx-commit=0', '--innodb-buffer-pool-size=512M', '--innodb-log-file-size=512M',
    '--max-allowed-packet=1G', '--innodb-doublewrite=0',
  ],
  ping: () => ['mariadb', '--no-defaults', '--socket=/tmp/mysqld.sock', '-uroot', '-N', '-B', '-e', 'SELECT 1'],
};
