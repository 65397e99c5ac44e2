// The Docker network instances join in bridge mode. Docker's default bridge lets every container talk
// to every other one and masquerades their traffic to anywhere; this one does neither: inter-container
// traffic off (enable_icc=false) and no source NAT (enable_ip_masquerade=false). Published ports keep
// working (Docker's DNAT and userland proxy). What the bridge still lets through to the host itself
// and to routed networks is the host firewall's business (host/firewall.ts).
import Docker from 'dockerode';
import { AppError, isAppError } from '../domain/errors.js';
import { isUnreachable } from '../lib/net-errors.js';
import { endpoint } from './docker-map.js';

const ICC = 'com.docker.network.bridge.enable_icc';
const MASQUERADE = 'com.docker.network.bridge.enable_ip_masquerade';
const BRIDGE_NAME = 'com.docker.network.bridge.name';

export interface IsolatedNetwork {
  name: string;
  /** the host-side bridge interface, e.g. br-1a2b3c4d5e6f */
  bridge: string;
}

export interface Networks {
  /** Creates the isolated network `name` unless it exists; refuses one that exists without the isolation. */
  ensureIsolated(name: string): Promise<IsolatedNetwork>;
  /** Removes network `name`; missing is fine (for tests that made their own). */
  remove(name: string): Promise<void>;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

export function createDockerNetworks(opts: { dockerHost?: string | null }): Networks {
  const docker = new Docker(endpoint(opts.dockerHost).options);

  const fail = (e: unknown, doing: string): never => {
    if (isAppError(e)) throw e;
    const why = (e as { json?: { message?: string } })?.json?.message ?? (e as Error)?.message ?? String(e);
    if (isUnreachable(e)) throw new AppError('docker_unavailable', `the Docker engine does not answer while ${doing} (${why}): start Docker or set DOCKER_HOST`);
    throw new AppError('internal', `Docker failed while ${doing}: ${why}`);
  };

  async function inspect(name: string): Promise<Docker.NetworkInspectInfo | null> {
    try {
      return (await docker.getNetwork(name).inspect()) as Docker.NetworkInspectInfo;
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return null;
      return fail(e, `inspecting network ${name}`);
    }
  }

  function describe(n: Docker.NetworkInspectInfo): IsolatedNetwork {
    const o = n.Options ?? {};
    if (n.Driver !== 'bridge' || o[ICC] !== 'false' || o[MASQUERADE] !== 'false') {
      throw new AppError(
        'conflict',
        `Docker network ${n.Name} exists but is not an isolated bridge (driver ${n.Driver}, ${ICC}=${o[ICC] ?? 'true'}, ${MASQUERADE}=${o[MASQUERADE] ?? 'true'}): ` +
          'remove it (docker network rm) so the controller can make it, or set MYAAS_DOCKER_NETWORK to another name',
      );
    }
    // Docker names a bridge br-<first 12 characters of the id> unless told otherwise.
    return { name: n.Name, bridge: o[BRIDGE_NAME] ?? `br-${n.Id.slice(0, 12)}` };
  }

  return {
    async ensureIsolated(name) {
      if (!NAME.test(name)) throw new AppError('bad_request', `MYAAS_DOCKER_NETWORK ${JSON.stringify(name)} is not a valid Docker network name`);
      const found = await inspect(name);
      if (found) return describe(found);
      try {
        await docker.createNetwork({
          Name: name,
          Driver: 'bridge',
          CheckDuplicate: true,
          Options: { [ICC]: 'false', [MASQUERADE]: 'false' },
          Labels: { 'myaas.network': 'isolated' },
        });
      } catch (e) {
        // Another controller on this engine made it a moment ago: use theirs.
        if ((e as { statusCode?: number }).statusCode !== 409) fail(e, `creating network ${name}`);
      }
      const made = await inspect(name);
      if (!made) throw new AppError('internal', `Docker network ${name} vanished right after it was created; try again`);
      return describe(made);
    },
    async remove(name) {
      try {
        await docker.getNetwork(name).remove();
      } catch (e) {
        if ((e as { statusCode?: number }).statusCode === 404) return;
        fail(e, `removing network ${name}`);
      }
    },
  };
}
