// Removes an isolated network a test made (MYAAS_DOCKER_NETWORK) together with its firewall rules.
import { createCommandRunner } from '../../controller/host/command.js';
import { createIptablesFirewall } from '../../controller/host/firewall.js';
import { createDockerNetworks } from '../../controller/runtime/networks.js';

export async function dropIsolatedNetwork(name: string): Promise<void> {
  const networks = createDockerNetworks({});
  const net = await networks.ensureIsolated(name).catch(() => null);
  if (net) await createIptablesFirewall(createCommandRunner()).release(net.bridge);
  await networks.remove(name);
}
