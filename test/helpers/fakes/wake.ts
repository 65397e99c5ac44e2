// Wake listeners over the in-memory world: a listened port is held (a container cannot bind it, as on
// a real host), and the test plays a client with connect(port). Holds of new connections (the host
// firewall's part) are recorded in the world's events.
import type { HeldConnection, WakeListeners } from '../../../controller/app/ports.js';
import type { World } from './world.js';

export interface FakeHeld extends HeldConnection {
  /** where it was piped to, once forwarded */
  forwardedTo: { host: string; port: number } | null;
  dropped: boolean;
}

export interface FakeWakeListeners extends WakeListeners {
  /** a client connects to `port`: held by the listener there; null (refused) when nothing listens */
  connect(port: number): FakeHeld | null;
  /** ports whose new connections are held off now (WakeListeners.hold) */
  held(): number[];
}

export function createFakeWakeListeners(world: World): FakeWakeListeners {
  const handlers = new Map<number, (c: HeldConnection) => void>();
  const held = new Set<string>();
  return {
    async listen(_address, port, onConnection) {
      await Promise.resolve();
      if (handlers.has(port) || world.serverAt(port)) throw Object.assign(new Error(`listen EADDRINUSE: address already in use :${port}`), { code: 'EADDRINUSE' });
      handlers.set(port, onConnection);
      world.portsHeld.add(port);
      world.events.push(`listen ${port}`);
    },
    async close(port) {
      await Promise.resolve();
      if (handlers.delete(port)) world.events.push(`unlisten ${port}`);
      world.portsHeld.delete(port);
    },
    ports: () => [...handlers.keys()],
    async hold(address, port) {
      await Promise.resolve();
      held.add(`${address}:${port}`);
      world.events.push(`hold ${port}`);
    },
    async unhold(address, port) {
      await Promise.resolve();
      if (held.delete(`${address}:${port}`)) world.events.push(`unhold ${port}`);
    },
    async holds() {
      return [...held].map((h) => ({ address: h.slice(0, h.lastIndexOf(':')), port: Number(h.slice(h.lastIndexOf(':') + 1)) }));
    },
    held: () => [...held].map((h) => Number(h.slice(h.lastIndexOf(':') + 1))),
    connect(port) {
      const h = handlers.get(port);
      if (!h) return null;
      const c: FakeHeld = {
        forwardedTo: null,
        dropped: false,
        forward(host, p) {
          c.forwardedTo = { host, port: p };
        },
        drop() {
          c.dropped = true;
        },
      };
      h(c);
      return c;
    },
  };
}
