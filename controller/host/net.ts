// TCP ports of this host, for instances that listen on the host's network themselves.
import { createServer } from 'node:net';

export interface HostNet {
  /** A port the kernel says is free on `address` now. */
  freePort(address: string): Promise<number>;
}

export function createHostNet(): HostNet {
  return {
    async freePort(address) {
      const srv = createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, address, () => resolve());
      });
      const { port } = srv.address() as { port: number };
      await new Promise((r) => srv.close(r));
      return port;
    },
  };
}
