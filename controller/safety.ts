// Part of the composition root (used by main.ts only): what holds instances in on this host (issue 9,
// docs/security-host.md). Owner-only data dir folders, per-clone disk limits and the pool's reserve,
// the certificate instances offer TLS with, and the isolated network with its firewall rules.
import { join } from 'node:path';
import type { Config } from './config.js';
import { AppError, isAppError, messageOf } from './domain/errors.js';
import type { Paths } from './domain/layout.js';
import type { Logger } from './domain/logger.js';
import type { CommandRunner } from './domain/command.js';
import type { DiskGuard, HostFiles, Storage } from './app/ports.js';
import { createDiskGuard } from './app/disk.js';
import type { InstanceSafety } from './jobs/provision.js';
import { createIptablesFirewall } from './host/firewall.js';
import { prepareInstanceTls, type InstanceTls } from './host/tls.js';
import { createDockerNetworks } from './runtime/networks.js';

export interface HostSafety {
  instance: InstanceSafety;
  disk: DiskGuard;
  tls: InstanceTls | null;
  importLimits: { memoryBytes: number; cpus: number; pidsLimit: number };
  /** Makes the isolated network and its firewall rules (needs Docker); repeated calls are cheap. */
  isolate(): Promise<void>;
}

/**
 * Folders of the data dir that hold secrets (state DB, datadirs with their password hashes, import
 * staging with the admin password, TLS keys): 0700, root's. Docker's daemon binds them as root, and a
 * container sees only its mount, so engines keep working; no other local user can look inside.
 */
async function restrictDataDir(files: HostFiles, paths: Paths): Promise<void> {
  for (const d of [paths.templatesDir, paths.instancesDir, paths.stagingRoot, paths.stateDir, join(paths.dataDir, 'tls')]) {
    await files.mkdirp(d, 0o700);
    await files.makeOwnerOnly(d);
  }
  // The PGlite state of an older controller was made 0666 under 0755: take that back too.
  await files.makeOwnerOnly(paths.stateDir, { recursive: true });
}

export async function prepareHostSafety(
  config: Config,
  deps: { storage: Storage; files: HostFiles; runner: CommandRunner; paths: Paths; engineUsers: string[]; log: Logger },
): Promise<HostSafety> {
  const { storage, log } = deps;
  const s = config.safety;
  await restrictDataDir(deps.files, deps.paths);

  let limit: { bytes: number; quota: 'squota' | 'qgroup' | 'none'; note?: string } = { bytes: 0, quota: 'none' };
  if (s.diskLimitBytes > 0) {
    const q = await storage.enableLimits(config.dataDir);
    if (q.mode === 'none') {
      const why = `MYAAS_DISK_LIMIT cannot be enforced on ${config.dataDir} (${storage.name}): ${q.why ?? 'no quota support'}`;
      if (s.diskLimitExplicit) throw new AppError('storage_unavailable', `${why}; fix that, or set MYAAS_DISK_LIMIT=0 to run without per-instance limits`);
      log.error({ dataDir: config.dataDir }, `${why}; instances run without a size limit (the pool reserve still applies); set MYAAS_DISK_LIMIT=0 to silence this`);
      limit = { bytes: 0, quota: 'none', note: why };
    } else {
      limit = { bytes: s.diskLimitBytes, quota: q.mode };
      if (q.mode === 'qgroup') log.warn('btrfs full qgroups are on for this pool: limits work, but deleting clones costs backref walks; simple quotas (btrfs quota disable, then enable --simple) are cheaper');
    }
  }
  const disk = createDiskGuard({ storage, dataDir: config.dataDir, reserve: s.diskReserve, limit });

  const tls = s.instanceTls
    ? await prepareInstanceTls(deps.runner, { dir: join(config.dataDir, 'tls'), publicHost: config.publicHost, files: s.instanceTls.files, engineUsers: deps.engineUsers })
    : null;

  const bridge = config.network === 'bridge';
  const networks = createDockerNetworks({ dockerHost: config.dockerHost });
  const firewall = createIptablesFirewall(deps.runner);
  let isolated: Promise<void> | null = null;
  const isolate = () => {
    if (!bridge) return Promise.resolve();
    isolated ??= (async () => {
      const net = await networks.ensureIsolated(s.dockerNetwork);
      await firewall.isolate(net.bridge);
      log.info({ network: net.name, bridge: net.bridge }, 'instances join an isolated network');
    })().catch((e) => {
      isolated = null; // try again at the next call (e.g. Docker was down at build time)
      throw e;
    });
    return isolated;
  };
  await isolate().catch((e) => {
    // A controller may be built while Docker is down (it says so in /healthz); start() tries again.
    if (!(isAppError(e) && e.code === 'docker_unavailable')) throw e;
    log.warn({ err: messageOf(e) }, 'isolated network not made yet: Docker does not answer');
  });

  return {
    instance: {
      dockerNetwork: bridge ? s.dockerNetwork : null,
      pidsLimit: s.pidsLimit,
      diskLimitBytes: limit.bytes,
      tlsDir: (user) => tls?.dirFor(user) ?? null,
      tlsPair: () => tls?.pair ?? null,
    },
    disk,
    tls,
    importLimits: { memoryBytes: s.importMemoryBytes, cpus: s.importCpus, pidsLimit: s.pidsLimit },
    isolate,
  };
}
