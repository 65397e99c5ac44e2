// The volume plugin's factory: what `myaas volume-plugin` runs on every node. The caller builds the
// real storage driver and command runner (only main.ts and cli.ts build real clients).
import type { CommandRunner } from '../domain/command.js';
import type { Logger } from '../domain/logger.js';
import type { Storage } from '../storage/storage.js';
import { createPoolLayout } from './layout.js';
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
}

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
  return {
    store,
    async start() {
      const removed = await store.recover();
      if (removed.length) log.warn({ removed }, 'removed half-built volumes left by a crash');
      server = await listenOnSocket(createPluginApp(store, log), deps.socketPath);
      log.info({ socket: deps.socketPath, dataDir: deps.dataDir, storage: deps.storage.name, volumes: (await store.list()).length }, 'volume plugin listening');
    },
    async close() {
      await server?.close();
      server = null;
    },
  };
}
