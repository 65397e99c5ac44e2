// What the handed-out PostgreSQL superuser can do to the host and to others through COPY … FROM
// PROGRAM, which runs commands in its container (issue 9, item 9): no capabilities, no privilege
// gain, a read-only root filesystem, no connection to another instance (directly or through the
// host's published ports), none to the outside, and a nested subvolume it makes cannot stop its
// instance's destroy. Import containers run with memory, CPU and process limits and no network.
// On a private btrfs pool and an isolated Docker network of this test's own, published on 0.0.0.0
// (the default exposure); "outside" is a network namespace routed from the host.
import { execFile } from 'node:child_process';
import { lstat } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addChinookDumps, importAndWait, startTestController, wipe, type TestController } from '../helpers/controller.js';
import { dropIsolatedNetwork } from '../helpers/isolation.js';
import { makeOutside, type Outside } from '../helpers/outside.js';
import { cleanupAll, makePrivatePool, type PrivatePool } from '../helpers/private-pool.js';
import { psql, requireDocker, run } from '../helpers/testbed.js';

const exec = promisify(execFile);
const NETWORK = `myaas-hard-${process.pid}`;

/** Runs `cmd` in the instance's container as its server's user, the way its owner can. */
async function program(url: string, cmd: string): Promise<string> {
  const wrapped = `(${cmd}) 2>&1 | base64 -w0; echo`;
  const out = await psql(url, `create temp table o(line text); copy o from program $p$${wrapped}$p$; select string_agg(line, '') from o`);
  // psql prints every statement's result (CREATE TABLE, COPY 1): the output is the last line.
  return Buffer.from(out.split('\n').pop() ?? '', 'base64').toString('utf8').trim();
}

/** "open" when a TCP connection from inside the instance to host:port succeeds. */
const reach = (url: string, host: string, port: number) =>
  program(url, `timeout 5 bash -c 'exec 3<>/dev/tcp/${host}/${port}' >/dev/null 2>&1 && echo open || echo closed`);

async function inspect(name: string): Promise<any> {
  return JSON.parse((await exec('docker', ['inspect', name])).stdout)[0];
}

function hostAddress(): string {
  const found = Object.entries(networkInterfaces())
    .filter(([name]) => !/^(docker|br-|veth|lo|myaas)/.test(name))
    .flatMap(([, list]) => list ?? [])
    .find((a) => a.family === 'IPv4' && !a.internal);
  if (!found) throw new Error('this machine has no IPv4 address outside Docker');
  return found.address;
}

describe('an instance is held in its container', () => {
  let pool: PrivatePool | null = null;
  let outside: Outside | null = null;
  let t: TestController | null = null;
  let importSpec: any = null;

  beforeAll(async () => {
    await requireDocker();
    pool = await makePrivatePool('btrfs', '3G', 'hard');
    outside = await makeOutside(`mh${process.pid % 100000}`, 40 + (process.pid % 200));
    t = await startTestController({
      dataDir: join(pool.dir, 'data'),
      env: { MYAAS_PUBLISH_IP: '0.0.0.0', MYAAS_DOCKER_NETWORK: NETWORK, MYAAS_DISK_LIMIT: '0', MYAAS_IMPORT_MEMORY_LIMIT: '768m', MYAAS_IMPORT_CPUS: '1.5' },
    });
    await addChinookDumps(t.dumpsDir);
    // Catch the import's server container while it runs, to see what it was given.
    const watching = (async () => {
      for (let i = 0; i < 3000 && !importSpec; i++) {
        const { stdout } = await exec('docker', ['ps', '-q', '--filter', `label=myaas.home=${t!.dataDir}`, '--filter', 'label=myaas.role=import']);
        const id = stdout.trim().split('\n')[0];
        if (id) importSpec = await inspect(id).catch(() => null);
        else await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const v = await importAndWait(t, 'chinook');
    await watching;
    if (v.status !== 'ready') throw new Error(`import failed: ${v.error}`);
  });

  afterAll(async () => {
    await cleanupAll([() => t && wipe(t), () => dropIsolatedNetwork(NETWORK), () => outside?.close(), () => pool?.close()]);
  });

  it('imports in a container with memory, CPU and process limits, no capabilities and no network', () => {
    expect(importSpec, 'no import container was seen running').not.toBeNull();
    expect(importSpec.HostConfig).toMatchObject({
      Memory: 768 * 2 ** 20,
      NanoCpus: 1.5e9,
      PidsLimit: 512,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: true,
      NetworkMode: 'none',
    });
  });

  it('gives the database user no capabilities, no privilege gain and a read-only root filesystem', async () => {
    const a = await t!.api('POST', '/api/v1/instances?wait=90', { template: 'chinook', name: 'caps' });
    expect(a.body.status, a.body.error).toBe('ready');
    const url = a.body.connection.url;
    const status = await program(url, "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status");
    expect(status).toMatch(/CapEff:\s+0{16}/);
    expect(status).toMatch(/CapBnd:\s+0{16}/);
    expect(status).toMatch(/CapPrm:\s+0{16}/);
    expect(status).toMatch(/NoNewPrivs:\s+1/);
    // The server user owns its home in the image: only a read-only root keeps it from writing there.
    expect(await program(url, 'touch /var/lib/postgresql/probe; echo rc=$?')).toMatch(/Read-only file system[\s\S]*rc=1/);
    expect(await program(url, 'touch /tmp/probe && echo tmp-ok')).toBe('tmp-ok');
    const c = await inspect(`myaas-${a.body.id}`);
    expect(c.HostConfig).toMatchObject({ PidsLimit: 512, CapDrop: ['ALL'], ReadonlyRootfs: true, NetworkMode: NETWORK });
    expect((await t!.api('DELETE', `/api/v1/instances/${a.body.id}?wait=60`)).body.status).toBe('destroyed');
  });

  it('cannot reach another instance, the host or the outside; clients still reach it', async () => {
    const [a, b] = await Promise.all(
      ['net-a', 'net-b'].map((name) => t!.api('POST', '/api/v1/instances?wait=90', { template: 'chinook', name })),
    );
    expect(a.body.status, a.body.error).toBe('ready');
    expect(b.body.status, b.body.error).toBe('ready');
    const ua = a.body.connection.url;
    const bPort = b.body.connection.port as number;
    // Whatever network B is on (the isolated one; Docker's default bridge before it existed).
    const [bNet] = Object.values((await inspect(`myaas-${b.body.id}`)).NetworkSettings.Networks) as Array<{ IPAddress: string; Gateway: string }>;
    const { IPAddress: bIp, Gateway: gateway } = bNet;
    // The probe works: the instance reaches its own server.
    expect(await reach(ua, '127.0.0.1', 5432)).toBe('open');
    // Not the other instance: neither directly nor through the ports the host publishes.
    expect(await reach(ua, bIp, 5432)).toBe('closed');
    expect(await reach(ua, gateway, bPort)).toBe('closed');
    expect(await reach(ua, hostAddress(), bPort)).toBe('closed');
    expect(await reach(ua, `10.213.${40 + (process.pid % 200)}.1`, bPort)).toBe('closed');
    // Not the outside.
    expect(await reach(ua, outside!.address, outside!.port)).toBe('closed');
    // Clients do reach both: on this host, on its address, and from the outside network.
    expect(await psql(b.body.connection.url, 'select 1')).toBe('1');
    expect(await psql(b.body.connection.url.replace('127.0.0.1', hostAddress()), 'select 2')).toBe('2');
    const { stdout } = await run('nsenter', [`--net=/run/netns/mh${process.pid % 100000}`, 'psql', b.body.connection.url.replace('127.0.0.1', `10.213.${40 + (process.pid % 200)}.1`), '-XAtc', 'select 3']);
    expect(stdout.trim()).toBe('3');
    for (const i of [a, b]) expect((await t!.api('DELETE', `/api/v1/instances/${i.body.id}?wait=60`)).body.status).toBe('destroyed');
  });

  it('destroys an instance whose user made a nested subvolume in its clone', async () => {
    const a = await t!.api('POST', '/api/v1/instances?wait=90', { template: 'chinook', name: 'nested' });
    expect(a.body.status, a.body.error).toBe('ready');
    // BTRFS_IOC_SUBVOL_CREATE on the datadir: needs no capability, only write access to the folder.
    const made = await program(a.body.connection.url, `perl -e 'opendir(my $d, "/var/lib/postgresql/data") or die "opendir: $!"; open(my $fh, "<&=", fileno($d)) or die "fdopen: $!"; my $args = pack("q", 0) . pack("Z4088", "nested"); ioctl($fh, 0x5000940e, $args) or die "ioctl: $!"; print "made\\n"'`);
    expect(made).toBe('made');
    const clone = join(t!.dataDir, 'instances', a.body.id);
    expect((await lstat(join(clone, 'nested'))).ino).toBe(256);
    const d = await t!.api('DELETE', `/api/v1/instances/${a.body.id}?wait=60`);
    expect(d.body.status, d.body.error).toBe('destroyed');
    await expect(lstat(clone)).rejects.toThrow(/ENOENT/);
  });
});
