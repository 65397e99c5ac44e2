// Issue 9 (items 8–11) in milliseconds: configuration, the container spec that holds a server in,
// the firewall rules, the pool reserve, per-clone limits through the core, engine TLS flags, metrics.
import { describe, expect, it } from 'vitest';
import { createDiskGuard } from '../../controller/app/disk.js';
import { loadConfig } from '../../controller/config.js';
import { formatBytes, reserveBytes } from '../../controller/domain/disk.js';
import { apiOwner } from '../../controller/domain/owner.js';
import { createMariadbEngine } from '../../controller/engines/mariadb.js';
import { createPostgresEngine } from '../../controller/engines/postgres.js';
import { createIptablesFirewall, isolationRules } from '../../controller/host/firewall.js';
import { Registry } from 'prom-client';
import { createPromMetrics } from '../../controller/host/metrics.js';
import { confinement } from '../../controller/jobs/provision.js';
import { systemClock } from '../../controller/lib/clock.js';
import { createOptions } from '../../controller/runtime/docker-map.js';
import { buildCore, DATA } from '../helpers/fakes/core.js';

const GiB = 2 ** 30;
const owner = apiOwner('alice');

describe('configuration of issue 9', () => {
  it('limits clones to 10 GiB and keeps 10% of the pool by default', () => {
    const c = loadConfig({} as NodeJS.ProcessEnv).safety;
    expect(c).toMatchObject({ diskLimitBytes: 10 * GiB, diskLimitExplicit: false, diskReserve: { percent: 10 }, pidsLimit: 512, dockerNetwork: 'myaas', tls: null });
    expect(c.instanceTls).toEqual({ files: null });
  });

  it('reads limits, reserves and TLS files, and refuses half of a pair', () => {
    const c = loadConfig({ MYAAS_DISK_LIMIT: '0', MYAAS_DISK_RESERVE: '2g', MYAAS_TLS_CERT: '/c', MYAAS_TLS_KEY: '/k', MYAAS_INSTANCE_TLS: 'false' } as NodeJS.ProcessEnv).safety;
    expect(c).toMatchObject({ diskLimitBytes: 0, diskLimitExplicit: true, diskReserve: { bytes: 2 * GiB }, tls: { cert: '/c', key: '/k' }, instanceTls: null });
    expect(() => loadConfig({ MYAAS_TLS_CERT: '/c' } as NodeJS.ProcessEnv)).toThrow(/MYAAS_TLS_CERT and MYAAS_TLS_KEY go together/);
    expect(() => loadConfig({ MYAAS_INSTANCE_TLS_KEY: '/k' } as NodeJS.ProcessEnv)).toThrow(/MYAAS_INSTANCE_TLS_CERT and MYAAS_INSTANCE_TLS_KEY/);
    expect(() => loadConfig({ MYAAS_DISK_RESERVE: '100%' } as NodeJS.ProcessEnv)).toThrow(/below 100%/);
  });
});

describe('the container spec', () => {
  const spec = {
    name: 'myaas-x', image: 'img', cmd: ['postgres'], user: '999:999', labels: {}, binds: [],
    memoryBytes: GiB, dockerNetwork: 'myaas', confine: confinement(createPostgresEngine(systemClock()), GiB, 512),
  };

  it('drops every capability, forbids privilege gain, makes the root read-only and caps processes', () => {
    const h = createOptions(spec, '5432/tcp').HostConfig!;
    expect(h).toMatchObject({ CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], ReadonlyRootfs: true, PidsLimit: 512, NetworkMode: 'myaas' });
    expect(h.Tmpfs).toEqual({
      '/tmp': 'rw,noexec,nosuid,nodev,mode=1777,size=268435456',
      '/run/postgresql': 'rw,noexec,nosuid,nodev,mode=1777,size=268435456',
    });
    expect(h.LogConfig).toEqual({ Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } });
  });

  it('puts import containers on no network and host-network instances on the host', () => {
    expect(createOptions({ ...spec, network: 'none' }, null).HostConfig!.NetworkMode).toBe('none');
    expect(createOptions({ ...spec, network: 'host', dockerNetwork: undefined }, null).HostConfig!.NetworkMode).toBe('host');
    expect(createOptions({ ...spec, dockerNetwork: undefined, confine: undefined }, null).HostConfig).not.toHaveProperty('CapDrop');
  });

  it('refuses secret files on one host (they are a cluster runtime\'s; one host bind-mounts its files)', () => {
    expect(() => createOptions({ ...spec, secretFiles: [{ target: '/x', data: 'k', uid: '0', gid: '0', mode: 0o400 }] }, null)).toThrow(/secret files are for a cluster runtime/);
  });
});

describe('firewall rules', () => {
  it('reject connections the bridge opens to the host and through it, and let replies pass', () => {
    const [input, forward] = isolationRules('br-0123456789ab');
    expect(input.slice(0, 3)).toEqual(['INPUT', '-i', 'br-0123456789ab']);
    expect(forward.slice(0, 6)).toEqual(['DOCKER-USER', '-i', 'br-0123456789ab', '!', '-o', 'br-0123456789ab']);
    for (const r of [input, forward]) {
      expect(r.join(' ')).toContain('-m conntrack ! --ctstate ESTABLISHED,RELATED');
      expect(r.slice(-2)).toEqual(['-j', 'REJECT']);
    }
    expect(() => isolationRules('br0; rm -rf /')).toThrow(/refusing/);
    // A Swarm node's default bridge: also between its containers (no per-network ICC switch there).
    const [, node] = isolationRules('docker0', { sameBridge: true });
    expect(node.slice(0, 4)).toEqual(['DOCKER-USER', '-i', 'docker0', '-m']);
    expect(node.join(' ')).not.toContain('-o docker0');
  });

  it('adds a rule only when iptables -C does not find it', async () => {
    const calls: string[] = [];
    const present = new Set<string>();
    const fw = createIptablesFirewall({
      async run(file, args) {
        const line = [file, ...args].join(' ');
        calls.push(line);
        const rule = args.slice(3).join(' ');
        if (args[2] === '-S') return { stdout: '', stderr: '' };
        if (args[2] === '-C' && !present.has(rule)) throw new Error('Bad rule');
        if (args[2] === '-I') present.add(args.slice(3).join(' ').replace(/^(\S+) 1 /, '$1 '));
        return { stdout: '', stderr: '' };
      },
    });
    await fw.isolate('br-abc');
    await fw.isolate('br-abc');
    expect(calls.filter((c) => c.includes(' -I ')).length).toBe(2);
  });

  it('says when Docker has not made DOCKER-USER yet, and gives the caller\'s advice otherwise', async () => {
    const failing = (why: string) =>
      createIptablesFirewall({
        async run(_file, args) {
          if (args[2] === '-S') return { stdout: '', stderr: '' };
          if (args[2] === '-C') throw new Error('Bad rule');
          if (args[2] === '-I' && args[3] === 'DOCKER-USER') throw new Error(why);
          return { stdout: '', stderr: '' };
        },
      });
    await expect(failing('iptables: No chain/target/match by that name.').isolate('docker0', { sameBridge: true })).rejects.toThrow(/no DOCKER-USER chain yet: Docker has not started/);
    await expect(failing('Permission denied').isolate('docker0', { sameBridge: true, hint: 'run it as root on the node' })).rejects.toThrow(/Permission denied; run it as root on the node$/);
    await expect(failing('Permission denied').isolate('br-abc')).rejects.toThrow(/or set MYAAS_NETWORK=host/);
  });
});

describe('the pool reserve', () => {
  it('refuses with 507 when free space is below the reserve, and says what to do', async () => {
    const space = { totalBytes: 20 * GiB, freeBytes: 1.5 * GiB };
    const guard = createDiskGuard({ storage: { space: async () => space }, dataDir: '/pool', reserve: { percent: 10 }, limit: { bytes: GiB, quota: 'squota' } });
    await expect(guard.assertRoom('a new instance')).rejects.toMatchObject({
      code: 'insufficient_storage',
      status: 507,
      message: expect.stringMatching(/^a new instance is refused: the storage pool at \/pool has 1\.5 GiB free of 20\.0 GiB, less than the 2\.0 GiB kept .*MYAAS_DISK_RESERVE.*myaas rm/),
    });
    space.freeBytes = 2 * GiB;
    await expect(guard.assertRoom('a new instance')).resolves.toBeUndefined();
    expect(await guard.status()).toEqual({ path: '/pool', totalBytes: 20 * GiB, freeBytes: 2 * GiB, reserveBytes: 2 * GiB, limitBytes: GiB, quota: 'squota' });
    expect(reserveBytes({ bytes: 5 }, 100)).toBe(5);
    expect(formatBytes(1536)).toBe('1.5 KiB');
  });

  it('keeps the core from creating instances and starting imports below it', async () => {
    const core = buildCore();
    await core.addVersion('chinook');
    core.world.pool.freeBytes = 1 * GiB; // of 100 GiB, reserve 10%
    await expect(core.instances.create({ owner, template: 'chinook' })).rejects.toMatchObject({ code: 'insufficient_storage' });
    expect(await core.instances.list()).toEqual([]);
    core.world.dumps.put({ template: 'fresh', engine: 'postgres', format: 'sql', file: 'fresh.sql', afterFile: null, sizeBytes: 1, fingerprint: 'f' });
    await expect(core.importer.start('fresh')).rejects.toMatchObject({ code: 'insufficient_storage' });
    core.world.pool.freeBytes = 50 * GiB;
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    expect((await core.instances.get(instance.id)).status).toBe('ready');
  });
});

describe('instances through the core', () => {
  it('limit their clone, join the isolated network, mount the TLS folder and run confined', async () => {
    const core = buildCore({ diskLimitBytes: 5 * GiB });
    const v = await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    const i = await core.instances.get(instance.id);
    expect(i.status).toBe('ready');
    const clone = `${DATA}/instances/${i.id}`;
    expect(core.world.events.slice(0, 2)).toEqual([`clone ${DATA}/templates/chinook/${v.id} -> ${clone}`, `limit ${clone} ${5 * GiB}`]);
    const spec = core.world.serverAt(i.port!)!.spec;
    expect(spec).toMatchObject({ dockerNetwork: 'myaas', confine: { pidsLimit: 512 } });
    expect(spec.binds).toContainEqual({ host: `${DATA}/tls/999-999`, container: '/etc/myaas/tls', readOnly: true });
  });

  it('reset clones and limits again; a restart on the same clone keeps its limit', async () => {
    const core = buildCore({ diskLimitBytes: GiB });
    await core.addVersion('chinook');
    const { instance } = await core.instances.create({ owner, template: 'chinook' });
    await core.settle();
    await core.instances.reset(instance.id);
    await core.settle();
    expect(core.world.events.filter((e) => e.startsWith('limit'))).toHaveLength(2);
    const i = await core.instances.get(instance.id);
    core.world.kill(i.containerId!);
    await core.settle();
    expect(core.world.events.filter((e) => e.startsWith('limit'))).toHaveLength(2);
  });
});

describe('engines', () => {
  it('offer TLS from the mounted folder and make owner-only files', () => {
    const pg = createPostgresEngine(systemClock());
    expect(pg.serverCommand('instance', '/tmp', undefined, '/etc/myaas/tls').join(' ')).toContain(
      '-c ssl=on -c ssl_cert_file=/etc/myaas/tls/server.crt -c ssl_key_file=/etc/myaas/tls/server.key',
    );
    expect(pg.serverCommand('instance', '/tmp').join(' ')).not.toContain('ssl');
    const my = createMariadbEngine(systemClock());
    expect(my.serverCommand('instance', '/tmp', undefined, '/etc/myaas/tls')).toEqual(expect.arrayContaining(['--ssl-cert=/etc/myaas/tls/server.crt', '--ssl-key=/etc/myaas/tls/server.key']));
    expect(my.env).toEqual(['UMASK=0600', 'UMASK_DIR=0700']);
    expect(my.scratchDirs).toContain('/run/mysqld');
  });
});

describe('metrics', () => {
  it('show the pool', async () => {
    const m = createPromMetrics({
      registry: new Registry(), warmPoolTarget: 0, poolPath: '/data', processMetrics: false,
      readings: async () => ({ pool: { totalBytes: 100, usedBytes: 60, freeBytes: 40 }, instances: [], warmPool: [], versions: [] }),
      diskLimits: async () => ({ reserveBytes: 10, limitBytes: 5 }),
    });
    const text = (await m.expose()).body;
    expect(text).toMatch(/^myaas_pool_size_bytes\{path="\/data"\} 100$/m);
    expect(text).toMatch(/^myaas_pool_free_bytes\{path="\/data"\} 40$/m);
    expect(text).toMatch(/^myaas_pool_reserve_bytes 10$/m);
    expect(text).toMatch(/^myaas_instance_disk_limit_bytes 5$/m);
  });
});
