// How an instance's owner is told why its server stopped: one line, no server log lines.
import type { ContainerInfo } from '../app/ports.js';

const mib = (n: number) => `${Math.round(n / 1024 / 1024)} MiB`;
const at = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export function faultOf(c: ContainerInfo | null, memoryLimitBytes: number, when: Date): string {
  if (!c) return `its container was removed (${at(when)}); started again on its data`;
  if (c.oomKilled) {
    return `killed for using more than its memory limit of ${mib(memoryLimitBytes)} (MYAAS_MEMORY_LIMIT) at ${at(when)}; started again on its data`;
  }
  return `the server stopped${c.exitCode !== null ? ` (exit code ${c.exitCode})` : ''} at ${at(when)}; started again on its data`;
}

/**
 * Whether the server stopped by its own doing (an error exit, an out-of-memory kill), which repeated
 * soon after starting is a crash loop; rather than being stopped from outside: exit 0 or SIGTERM (143)
 * is a requested shutdown (docker stop, the engine restarting), SIGKILL (137) without an OOM kill is
 * docker kill or a host going down, 255 is Docker's code for an exit it lost with its engine (the host
 * went down), and a removed container was removed by someone.
 */
export function stoppedOnItsOwn(c: ContainerInfo | null): boolean {
  if (!c) return false;
  if (c.oomKilled) return true;
  return c.exitCode !== null && ![0, 137, 143, 255].includes(c.exitCode);
}

/** A process of the server (one query's backend) was killed for memory, and the server carried on. */
export function oomRecovered(memoryLimitBytes: number, when: Date): string {
  return `a query was killed for using more than the memory limit of ${mib(memoryLimitBytes)} (MYAAS_MEMORY_LIMIT) at ${at(when)}; the server recovered`;
}

/** As oomRecovered, but the server did not answer again within `waitedMs` and was started again. */
export function oomNotRecovered(memoryLimitBytes: number, when: Date, waitedMs: number): string {
  return `a query was killed for using more than the memory limit of ${mib(memoryLimitBytes)} (MYAAS_MEMORY_LIMIT) at ${at(when)}; the server did not answer within ${Math.round(waitedMs / 1000)} s after it and was started again on its data`;
}
