// Secrets at rest (issue 9, item 10): the state DB (instance passwords in its WAL), template versions
// and clones (password hashes, data), import staging and the TLS key are out of reach of other local
// users, including members of gid 999 (systemd-journal on Debian, the engines' group in their images).
// The controller runs as `myaas serve` in its own process, as in production; the reads are attempted
// as an unprivileged user with setpriv.
import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChinookDumps, startTestController, wipe } from '../helpers/controller.js';
import { dropIsolatedNetwork } from '../helpers/isolation.js';
import { cleanupAll, makePrivatePool, type PrivatePool } from '../helpers/private-pool.js';
import { freeTcpPort, spawnController, type ControllerProcess } from '../helpers/process.js';
import { requireDocker } from '../helpers/testbed.js';

const exec = promisify(execFile);
const NETWORK = `myaas-secrets-${process.pid}`;

/** Tries to read `path` as user nobody (65534), optionally also in group `gid`; answers what happened. */
async function readAs(path: string, gid?: number): Promise<'read' | 'refused'> {
  const groups = gid === undefined ? ['--clear-groups'] : ['--groups', String(gid)];
  try {
    await exec('setpriv', ['--reuid', '65534', '--regid', '65534', ...groups, '--', 'head', '-c', '1', path]);
    return 'read';
  } catch (e) {
    if (!/Permission denied/.test(String((e as { stderr?: string }).stderr))) throw e;
    return 'refused';
  }
}

/** Files below `dir` (not following symlinks), up to `max`. */
async function filesBelow(dir: string, max = 2000): Promise<string[]> {
  const out: string[] = [];
  const pending = [dir];
  while (pending.length && out.length < max) {
    const d = pending.pop()!;
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) pending.push(join(d, e.name));
      else if (e.isFile()) out.push(join(d, e.name));
    }
  }
  return out;
}

describe('secrets at rest', () => {
  let pool: PrivatePool | null = null;
  let c: ControllerProcess | null = null;
  let dataDir = '';

  beforeAll(async () => {
    await requireDocker();
    pool = await makePrivatePool('btrfs', '3G', 'secrets');
    dataDir = join(pool.dir, 'data');
    await addChinookDumps(join(dataDir, 'dumps'));
    c = await spawnController(dataDir, await freeTcpPort(), { MYAAS_DOCKER_NETWORK: NETWORK, MYAAS_DISK_LIMIT: '0' });
    for (const name of ['chinook', 'chinook-my']) {
      const r = await c.api('POST', `/api/v1/templates/${name}/import`);
      if (r.status !== 202) throw new Error(`import of ${name} refused: ${JSON.stringify(r.body)}`);
    }
    const waits = (async () => {
      for (let i = 0; i < 600; i++) {
        const all = (await c!.api('GET', '/api/v1/templates')).body as any[];
        // Both imports and the schema-only variants cut after them (`<template>:schema`) are done.
        const ts = all.filter((t) => !t.name.endsWith(':schema'));
        if (ts.length === 2 && all.length === 4 && all.every((t) => t.versions[0]?.status !== 'importing')) return ts;
        await new Promise((r) => setTimeout(r, 500));
      }
      throw new Error('imports did not finish');
    })();
    const ts = (await waits) as any[];
    for (const t of ts) if (t.versions[0].status !== 'ready') throw new Error(`import of ${t.name} failed: ${t.versions[0].error}`);
  });

  afterAll(async () => {
    await cleanupAll([
      async () => {
        if (!c || c.child.exitCode !== null) return;
        const exited = new Promise((r) => c!.child.once('exit', r));
        c.child.kill('SIGTERM');
        await exited;
      },
      // An in-process controller on the same data dir removes what the served one made.
      async () => dataDir && wipe(await startTestController({ dataDir, env: { MYAAS_DOCKER_NETWORK: NETWORK, MYAAS_DISK_LIMIT: '0' }, start: false })),
      () => dropIsolatedNetwork(NETWORK),
      () => pool?.close(),
    ]);
  });

  it('keeps the state DB, datadirs, clones and keys from other local users', async () => {
    const pg = await c!.api('POST', '/api/v1/instances?wait=90', { template: 'chinook', name: 'pg' });
    const my = await c!.api('POST', '/api/v1/instances?wait=90', { template: 'chinook-my', name: 'my' });
    expect(pg.body.status, pg.body.error).toBe('ready');
    expect(my.body.status, my.body.error).toBe('ready');
    const ts = (await c!.api('GET', '/api/v1/templates')).body as any[];
    const version = (name: string) => join(dataDir, 'templates', name, ts.find((t) => t.name === name).latest);

    // The folders that hold secrets are root's alone.
    for (const d of ['templates', 'instances', 'staging', 'state', 'tls']) {
      const st = await stat(join(dataDir, d));
      expect({ d, mode: (st.mode & 0o777).toString(8), uid: st.uid }).toEqual({ d, mode: '700', uid: 0 });
    }
    // PGlite gives its files mode 0666 whatever the umask: the state folder (0700) is what keeps them.
    const stateFiles = await filesBelow(join(dataDir, 'state'));
    expect(stateFiles.length).toBeGreaterThan(10);

    const secrets = [
      join(dataDir, 'state', 'PG_VERSION'),
      ...stateFiles.filter((f) => f.includes('pg_wal')).slice(0, 1),
      join(version('chinook'), 'global', 'pg_control'),
      join(version('chinook-my'), 'mysql', 'global_priv.MAD'),
      join(dataDir, 'instances', pg.body.id, 'PG_VERSION'),
      join(dataDir, 'tls', '999-999', 'server.key'),
    ];
    for (const f of secrets) {
      expect({ f, as: await readAs(f) }).toEqual({ f, as: 'refused' });
      // Also for a member of gid 999 (the engines' group in their images, systemd-journal on Debian).
      expect({ f, as: await readAs(f, 999) }).toEqual({ f, as: 'refused' });
    }

    // MariaDB's own files are owner-only as well (it makes them 0660 unless told), so even with the
    // folders opened up nothing would be group-readable.
    const myFiles = await filesBelow(version('chinook-my'));
    const open = [];
    for (const f of myFiles) if (((await stat(f)).mode & 0o077) !== 0) open.push(f);
    expect(open).toEqual([]);
    for (const i of [pg, my]) expect((await c!.api('DELETE', `/api/v1/instances/${i.body.id}?wait=60`)).body.status).toBe('destroyed');
  });
});
