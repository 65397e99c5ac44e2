// Brings one instance to `ready`: clone, container, password rotation, authenticated probe.
// Each step removes what a previous (crashed or failed) attempt left, so repeating it is safe.
import { stat } from 'node:fs/promises';
import { AppError, messageOf } from '../domain/errors.js';
import { tail } from '../domain/templates.js';
import type { EngineName, InstanceRecord, TemplateVersion } from '../domain/types.js';
import type { Engine } from '../engines/engine.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Storage } from '../storage/storage.js';
import type { Paths } from './paths.js';
import { ephemeralPort } from './ports.js';

export interface ProvisionDeps {
  storage: Storage;
  runtime: Runtime;
  engines: (name: EngineName) => Engine;
  paths: Paths;
  home: string;
  memoryBytes: number;
  cpus: number;
  publishIp: string;
  /** bridge: own network namespace, port published by Docker; host: the server listens on the host itself */
  network: 'bridge' | 'host';
  probeHost: string;
  readyTimeoutMs: number;
}

export interface Timings {
  cloneMs: number;
  startMs: number;
  rotateMs: number;
  probeMs: number;
  totalMs: number;
}

const exists = (p: string) => stat(p).then(() => true, () => false);

export function instanceLabels(home: string, i: InstanceRecord, v: TemplateVersion): Record<string, string> {
  return {
    'myaas.home': home,
    'myaas.role': 'instance',
    // No owner or name: a warm-pool instance changes hands while its container runs.
    'myaas.instance': i.id,
    'myaas.template': i.template,
    'myaas.version': v.id,
    'myaas.engine': v.engine,
  };
}

/** Removes the instance's containers (found by label, so a crashed attempt's are found too) and clone. */
export async function teardown(deps: Pick<ProvisionDeps, 'runtime' | 'storage' | 'paths' | 'home'>, id: string): Promise<void> {
  for (const c of await deps.runtime.list({ 'myaas.home': deps.home, 'myaas.instance': id })) await deps.runtime.remove(c.id);
  await deps.storage.remove(deps.paths.instance(id));
}

export async function provision(
  deps: ProvisionDeps,
  inst: InstanceRecord,
  version: TemplateVersion,
  onContainer: (containerId: string, port: number) => Promise<void>,
  opts: { keepClone?: boolean } = {},
): Promise<{ port: number; containerId: string; timings: Timings }> {
  const engine = deps.engines(version.engine);
  const t0 = Date.now();
  const clone = deps.paths.instance(inst.id);
  if (opts.keepClone) {
    // The container vanished but the data is there: serve the same clone again.
    for (const c of await deps.runtime.list({ 'myaas.home': deps.home, 'myaas.instance': inst.id })) await deps.runtime.remove(c.id);
  } else {
    // A previous attempt always leaves its clone (it is made before the container and removed after
    // it), so a missing clone means there is nothing to tear down and the Docker round trip is saved.
    if (await exists(clone)) await teardown(deps, inst.id);
    await deps.storage.clone(deps.paths.version(version.template, version.id), clone);
  }
  const t1 = Date.now();
  let containerId: string | null = null;
  try {
    const host = deps.network === 'host';
    // Host networking has no Docker-chosen port: the instance keeps its port, or gets a free one now.
    const listen = host ? { address: deps.publishIp, port: inst.port ?? (await ephemeralPort(deps.publishIp)) } : undefined;
    const spec = {
      name: `myaas-${inst.id}`,
      image: version.image,
      cmd: engine.serverCommand('instance', '/tmp', listen),
      network: deps.network,
      user: engine.user,
      labels: instanceLabels(deps.home, inst, version),
      binds: [{ host: clone, container: engine.dataDir }],
      publish: { containerPort: engine.port, hostPort: inst.port ?? 0, hostIp: deps.publishIp },
      memoryBytes: deps.memoryBytes,
      nanoCpus: Math.round(deps.cpus * 1e9),
      shmBytes: 128 * 1024 * 1024,
    };
    const started = await deps.runtime.start(spec).catch(async (e) => {
      // A container of this name outlived its clone (crash between the two removals): remove, retry once.
      if (!(e instanceof AppError && e.code === 'conflict' && /name/i.test(e.message))) throw e;
      await deps.runtime.remove(spec.name);
      return deps.runtime.start(spec);
    });
    containerId = started.id;
    const port = listen ? listen.port : started.hostPort;
    if (!port) throw new AppError('internal', 'Docker published no host port for the instance');
    await onContainer(containerId, port);
    const t2 = Date.now();
    const deadline = t0 + deps.readyTimeoutMs;
    const conn = { host: deps.probeHost, port, user: engine.adminUser, password: version.adminPassword, database: version.database ?? '' };
    try {
      if (opts.keepClone) {
        // The clone already carries the instance's password, unless the change was lost in a crash.
        await engine.rotatePassword({ ...conn, password: inst.password }, inst.password, deadline).catch(() =>
          engine.rotatePassword(conn, inst.password, deadline),
        );
      } else await engine.rotatePassword(conn, inst.password, deadline);
    } catch (e) {
      const info = await deps.runtime.inspect(containerId);
      const logs = info && !info.running ? `; the server exited: ${tail(await deps.runtime.logs(containerId, 15))}` : '';
      throw new AppError('timeout', `${messageOf(e)}${logs}`);
    }
    const t3 = Date.now();
    await engine.probe({ ...conn, password: inst.password }, deadline);
    const t4 = Date.now();
    return {
      port,
      containerId,
      timings: { cloneMs: t1 - t0, startMs: t2 - t1, rotateMs: t3 - t2, probeMs: t4 - t3, totalMs: t4 - t0 },
    };
  } catch (e) {
    if (opts.keepClone) {
      for (const c of await deps.runtime.list({ 'myaas.home': deps.home, 'myaas.instance': inst.id }).catch(() => [])) await deps.runtime.remove(c.id).catch(() => {});
    } else {
      await teardown(deps, inst.id).catch(() => {});
    }
    throw e;
  }
}
