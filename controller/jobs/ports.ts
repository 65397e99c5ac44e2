// Host ports from MYAAS_PORT_RANGE, when set (otherwise Docker picks one per instance).
import { createServer } from 'node:net';
import { AppError } from '../domain/errors.js';
import type { Store } from '../db/store.js';

export type PortRange = { from: number; to: number } | null;

/** A port of the range no live instance holds, avoiding `also`. Throws when the range is full. */
export async function freePort(store: Store, range: { from: number; to: number }, also: number[] = []): Promise<number> {
  const used = new Set([...(await store.livePorts()), ...also]);
  for (let p = range.from; p <= range.to; p++) if (!used.has(p)) return p;
  throw new AppError(
    'port_pool_exhausted',
    `all ${range.to - range.from + 1} ports of MYAAS_PORT_RANGE ${range.from}-${range.to} are in use: destroy unused instances (myaas ls, myaas rm) or widen the range`,
  );
}

/** A port the kernel says is free on `address` now (host networking without a pool). */
export async function ephemeralPort(address: string): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, address, () => resolve());
  });
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}
