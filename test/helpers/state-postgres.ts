// A real PostgreSQL server for the controller's state DB (DATABASE_URL), in a container of the local
// image, on a throwaway datadir. Tests that use it call stop() in afterAll.
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRuntime } from '../../controller/runtime/index.js';
import { IMAGES, POOLS } from './testbed.js';

/** `hostIp`: the host address it is published on (default 127.0.0.1; the test bed's nodes reach the host at 10.231.0.1). */
export async function startStatePostgres(opts: { hostIp?: string } = {}): Promise<{ url: string; stop(): Promise<void> }> {
  const hostIp = opts.hostIp ?? '127.0.0.1';
  const runtime = createRuntime('docker');
  const dir = await mkdtemp(join(POOLS.xfs, 'state-pg-'));
  await chown(dir, 999, 999);
  const labels = { 'myaas.test': 'state-postgres' };
  const base = { image: IMAGES.postgres, user: '999:999', labels, binds: [{ host: dir, container: '/data' }] };
  const init = await runtime.start({ ...base, name: `myaas-test-state-init-${Date.now()}`, cmd: ['initdb', '-D', '/data/pg', '-U', 'postgres', '--auth=trust'] });
  for (let i = 0; i < 600; i++) {
    const info = await runtime.inspect(init.id);
    if (info && !info.running) {
      if (info.exitCode !== 0) throw new Error(`initdb for the state DB failed: ${await runtime.logs(init.id)}`);
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await runtime.remove(init.id);
  await writeFile(join(dir, 'pg', 'pg_hba.conf'), 'local all all trust\nhost all all all trust\n');
  const server = await runtime.start({
    ...base,
    name: `myaas-test-state-${Date.now()}`,
    cmd: ['postgres', '-D', '/data/pg', '-c', 'listen_addresses=*', '-c', 'unix_socket_directories=/tmp', '-c', 'fsync=off'],
    publish: { containerPort: 5432, hostIp },
  });
  const url = `postgres://postgres@${hostIp}:${server.hostPort}/postgres`;
  const { default: postgres } = await import('postgres');
  for (let i = 0; ; i++) {
    const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await sql`select 1`;
      await sql.end();
      break;
    } catch (e) {
      await sql.end({ timeout: 0 }).catch(() => {});
      if (i > 200) throw new Error(`state PostgreSQL did not come up: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    async stop() {
      await runtime.remove(server.id);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
