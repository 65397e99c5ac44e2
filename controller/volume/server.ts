// Serves the plugin protocol on a unix socket, where Docker looks for legacy plugins
// (/run/docker/plugins/<driver>.sock). The socket is owner-only: only root's Docker may call it.
import { chmod, lstat, mkdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { createServer } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import { AppError } from '../domain/errors.js';

export interface SocketServer {
  close(): Promise<void>;
}

/** True when something accepts connections on the socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export async function listenOnSocket(app: Hono, path: string): Promise<SocketServer> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const st = await lstat(path).catch(() => null);
  if (st) {
    if (!st.isSocket()) throw new AppError('conflict', `${path} exists and is not a socket: remove it or choose another MYAAS_VOLUME_SOCKET`);
    if (await answers(path)) throw new AppError('conflict', `another process already serves ${path}: stop it first`);
    // Left by a plugin that died without closing it.
    await rm(path, { force: true });
  }
  const listener = getRequestListener(app.fetch);
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    // Docker's plugin client sends an empty Host header, from which no request URL can be built.
    if (!req.headers.host) req.headers.host = 'docker-plugin';
    void listener(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  await chmod(path, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Docker keeps connections alive; do not wait for it to hang up.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }).then(() => rm(path, { force: true })),
  };
}
