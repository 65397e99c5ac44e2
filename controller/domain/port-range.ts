// Host ports from MYAAS_PORT_RANGE, when one is set (otherwise Docker picks one per instance).
import { AppError } from './errors.js';

export type PortRange = { from: number; to: number };

/** The lowest port of `range` that is neither used nor to be avoided; a 503 saying what to do when none is left. */
export function pickPort(range: PortRange, used: Iterable<number>, avoid: number[] = []): number {
  const taken = new Set([...used, ...avoid]);
  for (let p = range.from; p <= range.to; p++) if (!taken.has(p)) return p;
  throw new AppError(
    'port_pool_exhausted',
    `all ${range.to - range.from + 1} ports of MYAAS_PORT_RANGE ${range.from}-${range.to} are in use: destroy unused instances (myaas ls, myaas rm) or widen the range`,
  );
}
