// Listeners on the published ports of suspended instances (MYAAS_IDLE_SUSPEND). A client's connection
// is accepted and held unread (pauseOnConnect): nothing it sent is consumed, so once the instance's
// server runs again the held socket is piped to it and the client's handshake goes through as if it
// had connected to the server directly. Running instances never pass through here.
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A client connection accepted while its instance was suspended, not read yet. */
export interface HeldConnection {
  /** Pipes the connection to the server at host:port (both ways) and lets its bytes flow. */
  forward(host: string, port: number): void;
  /** Closes the connection (the instance is gone, or could not be woken). */
  drop(): void;
}

export interface WakeListeners {
  /** Listens on address:port; each connection is handed over held. Rejects when the port is taken. */
  listen(address: string, port: number, onConnection: (c: HeldConnection) => void): Promise<void>;
  /** Stops listening on `port` (held connections stay held); resolves once the port is free again. */
  close(port: number): Promise<void>;
  /** Ports listened on now. */
  ports(): number[];
}

function held(client: Socket): HeldConnection {
  let done = false;
  // A client that gives up while held must not leave an error unhandled.
  client.on('error', () => client.destroy());
  return {
    forward(host, port) {
      if (done) return;
      done = true;
      if (client.destroyed) return;
      const server = connect({ host, port });
      server.setNoDelay(true);
      client.setNoDelay(true);
      const end = () => {
        client.destroy();
        server.destroy();
      };
      server.on('error', end);
      client.on('error', end);
      server.on('close', () => client.end());
      client.on('close', () => server.end());
      server.once('connect', () => {
        client.pipe(server);
        server.pipe(client);
        client.resume();
      });
    },
    drop() {
      done = true;
      client.destroy();
    },
  };
}

export function createWakeListeners(): WakeListeners {
  const servers = new Map<number, Server>();
  return {
    async listen(address, port, onConnection) {
      if (servers.has(port)) throw new Error(`already listening on port ${port}`);
      const srv = createServer({ pauseOnConnect: true }, (socket) => onConnection(held(socket)));
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ host: address, port, exclusive: true }, () => {
          srv.off('error', reject);
          resolve();
        });
      });
      srv.on('error', () => undefined);
      servers.set(port, srv);
    },
    async close(port) {
      const srv = servers.get(port);
      if (!srv) return;
      servers.delete(port);
      // close() stops accepting at once; its callback waits for accepted sockets, which stay held.
      await new Promise<void>((resolve) => {
        srv.close(() => resolve());
        setImmediate(resolve);
      });
    },
    ports: () => [...servers.keys()],
  };
}
