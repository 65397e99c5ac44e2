// Listeners on the published ports of suspended instances (MYAAS_IDLE_SUSPEND). A client's connection
// is accepted and held unread (pauseOnConnect): nothing it sent is consumed, so once the instance's
// server runs again the held socket is piped to it and the client's handshake goes through as if it
// had connected to the server directly. Running instances never pass through here.
//
// While the port changes hands (the server stops, then the controller listens) new connections are
// held off at the host's firewall: an iptables rule in the raw table drops their first packet (SYN),
// so the client's own TCP stack sends it again 1 s later (then 3 s, 7 s …) instead of failing, and by
// then whoever owns the port answers it. Connections already made are not touched.
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { CommandRunner } from '../domain/command.js';
import { createCommandRunner } from './command.js';

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
  /**
   * Holds off new connections to address:port (0.0.0.0: any address) until unhold: their SYN is
   * dropped and the client sends it again a second later. Rejects when the rule cannot be added.
   */
  hold(address: string, port: number): Promise<void>;
  /** Lets new connections to address:port through again (nothing to do when not held). */
  unhold(address: string, port: number): Promise<void>;
  /** The holds in place on this host, those a controller left when it died holding included. */
  holds(): Promise<Array<{ address: string; port: number }>>;
}

const HOLD_COMMENT = 'myaas: held while the port changes hands';
/** Locally made connections pass OUTPUT, the others PREROUTING; raw comes before Docker's NAT. */
const HOLD_CHAINS = ['PREROUTING', 'OUTPUT'];

/** The raw-table rule (after the chain) that drops new connections' SYNs to address:port. */
export function holdRule(address: string, port: number): string[] {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not a port: ${port}`);
  if (!/^[0-9.]+$/.test(address)) throw new Error(`not an IPv4 address: ${JSON.stringify(address)}`);
  const to = address === '0.0.0.0' ? [] : ['-d', `${address}/32`];
  return ['-p', 'tcp', ...to, '--dport', String(port), '--syn', '-m', 'comment', '--comment', HOLD_COMMENT, '-j', 'DROP'];
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

export function createWakeListeners(runner: CommandRunner = createCommandRunner()): WakeListeners {
  const servers = new Map<number, Server>();
  const iptables = (args: string[]) => runner.run('iptables', ['-w', '5', '-t', 'raw', ...args]);
  /** Deletes one copy of the rule per call until none is left. */
  async function remove(chain: string, rule: string[]): Promise<void> {
    for (let i = 0; i < 10; i++) if (!(await iptables(['-D', chain, ...rule]).then(() => true, () => false))) return;
  }
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
    async hold(address, port) {
      const rule = holdRule(address, port);
      try {
        for (const chain of HOLD_CHAINS) await iptables(['-I', chain, ...rule]);
      } catch (e) {
        for (const chain of HOLD_CHAINS) await remove(chain, rule);
        throw e;
      }
    },
    async unhold(address, port) {
      const rule = holdRule(address, port);
      for (const chain of HOLD_CHAINS) await remove(chain, rule);
    },
    async holds() {
      const found = new Map<string, { address: string; port: number }>();
      for (const chain of HOLD_CHAINS) {
        const { stdout } = await iptables(['-S', chain]);
        for (const line of stdout.split('\n')) {
          if (!line.startsWith(`-A ${chain} `) || !line.includes(HOLD_COMMENT)) continue;
          const m = /(?:-d (\S+)\/32 .*)?--dport (\d+) /.exec(line);
          if (m) found.set(`${m[1]}:${m[2]}`, { address: m[1] ?? '0.0.0.0', port: Number(m[2]) });
        }
      }
      return [...found.values()];
    },
  };
}
