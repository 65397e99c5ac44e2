// A private Docker engine and btrfs pool (scripts/private-docker.sh), so that restarting Docker,
// unmounting the pool or "rebooting" never touches the engine and pools other people use.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../../scripts/private-docker.sh', import.meta.url));

export interface PrivateDocker {
  name: string;
  /** DOCKER_HOST of the private engine */
  dockerHost: string;
  /** the private btrfs pool's mount point */
  poolDir: string;
  /** stop the engine (containers stopped with it, as a service stop does) and start it again */
  restart(): Promise<void>;
  /** the pools unmounted; fails while anything still uses them */
  unmount(): Promise<void>;
  mount(): Promise<void>;
  /** a host losing power: every container, the engine and containerd killed; pools unmounted */
  powerOff(): Promise<void>;
  /** what the host does after: scripts/setup-host.sh (pools, engine) for the private engine */
  boot(): Promise<void>;
  /** the pid of the engine's dockerd */
  enginePid(): Promise<number | null>;
  down(): Promise<void>;
}

async function script(cmd: string, name: string): Promise<string> {
  try {
    const { stdout } = await run('bash', [SCRIPT, cmd, name], { maxBuffer: 16 * 1024 * 1024, timeout: 600_000 });
    return stdout;
  } catch (e) {
    const x = e as { stderr?: string; message: string };
    throw new Error(`private-docker.sh ${cmd} ${name} failed: ${(x.stderr ?? '').trim().split('\n').slice(-5).join(' | ') || x.message}`);
  }
}

/** Brings the engine up (creating pools and loading images the first time) and describes it. */
export async function privateDocker(name: string): Promise<PrivateDocker> {
  await script('up', name);
  const env = Object.fromEntries(
    (await script('env', name))
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const pidFile = `/run/myaas-private/${name}/docker.pid`;
  return {
    name,
    dockerHost: env.DOCKER_HOST,
    poolDir: env.MYAAS_DATA_DIR,
    restart: () => script('restart', name).then(() => undefined),
    unmount: () => script('unmount', name).then(() => undefined),
    mount: () => script('mount', name).then(() => undefined),
    powerOff: () => script('power-off', name).then(() => undefined),
    boot: () => script('boot', name).then(() => undefined),
    async enginePid() {
      const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
      return pid > 0 ? pid : null;
    },
    down: () => script('down', name).then(() => undefined),
  };
}

/** Removes a private engine that a crashed run may have left (a no-op when there is none). */
export async function privateDockerDown(name: string): Promise<void> {
  await script('down', name);
}
