// Host firewall rules that finish what the isolated Docker network starts (runtime/networks.ts).
// With inter-container traffic off, an instance still reaches (a) the host itself on the bridge's
// gateway address, and so every published port of every other instance through Docker's userland
// proxy, and (b) any network the host routes to, even without NAT. Two rules close both for
// connections the instance opens; replies to connections made to it (clients on published ports,
// the controller's probes) pass as ESTABLISHED. Checked and added at every start (a reboot flushes
// iptables), never duplicated.
import { access } from 'node:fs/promises';
import type { CommandRunner } from '../domain/command.js';
import { AppError, messageOf } from '../domain/errors.js';

const IFACE = /^[a-zA-Z0-9_.-]{1,15}$/;
const COMMENT = ['-m', 'comment', '--comment', 'myaas: instances may not open connections'];

/**
 * [chain, rule…] for the bridge `bridge`, in the filter table. `sameBridge`: also between containers
 * on that bridge (a Swarm node's default bridge, where inter-container traffic cannot be turned off
 * per network; bridged frames pass iptables where Docker runs, br_netfilter).
 */
export function isolationRules(bridge: string, o: { sameBridge?: boolean } = {}): string[][] {
  if (!IFACE.test(bridge)) throw new AppError('internal', `refusing firewall rules for interface ${JSON.stringify(bridge)}`);
  const notReply = ['-m', 'conntrack', '!', '--ctstate', 'ESTABLISHED,RELATED'];
  return [
    // To the host: its own services and every port Docker publishes (including other instances').
    ['INPUT', '-i', bridge, ...notReply, ...COMMENT, '-j', 'REJECT'],
    // Through the host: other networks, other bridges, the internet. DOCKER-USER is Docker's place
    // for rules of its users, consulted before its own FORWARD rules and kept when Docker restarts.
    ['DOCKER-USER', '-i', bridge, ...(o.sameBridge ? [] : ['!', '-o', bridge]), ...notReply, ...COMMENT, '-j', 'REJECT'],
  ];
}

export interface Firewall {
  /** Makes sure the isolation rules for `bridge` are in place (and drops ours of bridges that are gone). */
  /** `hint`: what to do when a rule cannot be added (the caller knows; default: the controller's). */
  isolate(bridge: string, o?: { sameBridge?: boolean; hint?: string }): Promise<void>;
  /** Removes them (for tests that made their own network). */
  release(bridge: string, o?: { sameBridge?: boolean }): Promise<void>;
}

export function createIptablesFirewall(runner: CommandRunner): Firewall {
  const iptables = (args: string[]) => runner.run('iptables', ['-w', '5', ...args]);

  async function release(bridge: string, o: { sameBridge?: boolean } = {}): Promise<void> {
    for (const [chain, ...rule] of isolationRules(bridge, o)) {
      // -D removes one copy per call; stop when none is left.
      for (let i = 0; i < 10; i++) if (!(await iptables(['-D', chain, ...rule]).then(() => true, () => false))) break;
    }
  }

  /** Our rules whose bridge no longer exists (its network was removed): harmless, but they pile up. */
  async function tidy(): Promise<void> {
    const { stdout } = await iptables(['-S', 'INPUT']);
    const bridges = new Set([...stdout.matchAll(/^-A INPUT -i (\S+) .*myaas: instances may not open connections/gm)].map((m) => m[1]));
    for (const b of bridges) {
      if (IFACE.test(b) && !(await access(`/sys/class/net/${b}`).then(() => true, () => false))) await release(b);
    }
  }

  return {
    release,
    async isolate(bridge, o = {}) {
      await tidy().catch(() => undefined);
      for (const [chain, ...rule] of isolationRules(bridge, o)) {
        const present = await iptables(['-C', chain, ...rule]).then(() => true, () => false);
        if (present) continue;
        try {
          await iptables(['-I', chain, '1', ...rule]);
        } catch (e) {
          // Docker makes DOCKER-USER when it starts: before that, there is nothing to add to yet.
          if (chain === 'DOCKER-USER' && /no chain/i.test(messageOf(e))) {
            throw new AppError('internal', 'iptables has no DOCKER-USER chain yet: Docker has not started here (it makes that chain)');
          }
          throw new AppError(
            'internal',
            `cannot add the firewall rule that keeps instances from opening connections (iptables -I ${chain} … on ${bridge}): ${messageOf(e)}; ` +
              (o.hint ?? 'run the controller as root on a host with iptables (Docker needs it too), or set MYAAS_NETWORK=host knowing that instances are then not isolated'),
          );
        }
      }
    },
  };
}
