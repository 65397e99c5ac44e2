// The volume plugin's factory: what `myaas volume-plugin` runs on every node. The caller builds the
// real storage driver and command runner (only main.ts and cli.ts build real clients).
import type { CommandRunner } from '../domain/command.js';
import { messageOf } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import type { PoolAccess } from '../domain/pool-access.js';
import type { Storage } from '../storage/storage.js';
import { createPoolLayout } from './layout.js';
import { createPoolAgentApp, listenAgent, type AgentServer } from './pool-agent.js';
import { createPluginApp } from './protocol.js';
import { createSealCheck } from './sealed.js';
import { listenOnSocket, type SocketServer } from './server.js';
import { createVolumeStore, type VolumeStore } from './volumes.js';

export interface VolumePluginDeps {
  storage: Storage;
  runner: CommandRunner;
  /** the node's pool: templates/<template>/<version> to clone from, volumes/ to clone into */
  dataDir: string;
  /** e.g. /run/docker/plugins/myaas.sock: the file name is the driver name Docker knows it by */
  socketPath: string;
  log: Logger;
  /** the node's pool agent (MYAAS_AGENT_LISTEN): controllers on other machines ship versions through it */
  agent?: { pool: PoolAccess; host: string; port: number; token: string; tls: { cert: string; key: string } | null } | null;
  /**
   * MYAAS_NODE_ISOLATE: keeps the containers of this node's instance bridge from opening connections
   * (firewall rules). Applied at start and every ISOLATE_EVERY_MS: Docker may start after the plugin
   * (it makes the DOCKER-USER chain), and a reboot flushes the rules.
   */
  isolation?: { bridge: string; apply(): Promise<void> } | null;
  /** how often the isolation rules are checked again; default 30 s */
  isolateEveryMs?: number;
}

const ISOLATE_EVERY_MS = 30_000;

export interface VolumePlugin {
  store: VolumeStore;
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createVolumePlugin(deps: VolumePluginDeps): VolumePlugin {
  const log = deps.log.child({ component: 'volume-plugin' });
  const store = createVolumeStore({
    storage: deps.storage,
    sealed: createSealCheck(deps.storage.name, deps.runner),
    layout: createPoolLayout(deps.dataDir),
    log,
  });
  let server: SocketServer | null = null;
  let agent: AgentServer | null = null;
  let isolating: NodeJS.Timeout | null = null;
  let isolationError: string | null = null;
  /** Applies the node's isolation rules; says so when that starts or stops failing, not at every try. */
  async function isolate(iso: NonNullable<VolumePluginDeps['isolation']>): Promise<void> {
    try {
      await iso.apply();
      if (isolationError !== null) log.info({ bridge: iso.bridge }, 'instance isolation rules in place again');
      isolationError = null;
    } catch (e) {
      const msg = messageOf(e);
      if (msg !== isolationError) log.error({ bridge: iso.bridge, err: msg }, `could not put the instance isolation rules in place; trying again every ${(deps.isolateEveryMs ?? ISOLATE_EVERY_MS) / 1000} s`);
      isolationError = msg;
    }
  }
  return {
    store,
    async start() {
      const removed = await store.recover();
      if (removed.length) log.warn({ removed }, 'removed half-built volumes left by a crash');
      server = await listenOnSocket(createPluginApp(store, log), deps.socketPath);
      log.info({ socket: deps.socketPath, dataDir: deps.dataDir, storage: deps.storage.name, volumes: (await store.list()).length }, 'volume plugin listening');
      const iso = deps.isolation;
      if (iso) {
        await isolate(iso);
        if (isolationError === null) log.info({ bridge: iso.bridge }, 'containers on this bridge may not open connections (MYAAS_NODE_ISOLATE)');
        isolating = setInterval(() => void isolate(iso), deps.isolateEveryMs ?? ISOLATE_EVERY_MS);
        isolating.unref();
      }
      const a = deps.agent;
      if (!a) return;
      const agentLog = deps.log.child({ component: 'pool-agent' });
      agent = await listenAgent(createPoolAgentApp({ pool: a.pool, token: a.token, log: agentLog }), a, a.tls);
      agentLog.info({ listen: `${a.host}:${agent.port}`, tls: !!a.tls }, 'pool agent listening');
      if (!a.tls && !/^(127\.|::1$|localhost$)/.test(a.host)) {
        agentLog.warn('the pool agent serves plain HTTP: requests are signed, but template data crosses the network unencrypted; set MYAAS_AGENT_TLS_CERT and MYAAS_AGENT_TLS_KEY');
      }
    },
    async close() {
      // The rules stay: instances stay held in while the plugin is down.
      if (isolating) clearInterval(isolating);
      isolating = null;
      await agent?.close();
      agent = null;
      await server?.close();
      server = null;
    },
  };
}
