// Pure translation between our runtime words and Docker's API shapes, kept apart from the I/O in docker.ts.

import type Docker from 'dockerode';
import { AppError } from '../domain/errors.js';
import type { Bind, ContainerInfo, ContainerSpec, RuntimeEvent, VolumeMount } from './runtime.js';

const DEFAULT_SOCKET = '/var/run/docker.sock';

export function createOptions(spec: ContainerSpec, port: string | null): Docker.ContainerCreateOptions {
  if (spec.secretFiles?.length) throw new AppError('internal', `container ${spec.name}: secret files are for a cluster runtime; on one host, bind-mount the files`);
  const hostPort = spec.publish?.hostPort;
  return {
    name: spec.name,
    Image: spec.image,
    Cmd: spec.cmd,
    // The engine images' entrypoints would re-initialise or chown the datadir; we run the server directly.
    Entrypoint: [],
    User: spec.user,
    Env: spec.env ?? [],
    Labels: spec.labels,
    ExposedPorts: port ? { [port]: {} } : undefined,
    HostConfig: {
      Binds: spec.binds.map(bindString),
      ...(spec.volumes?.length ? { Mounts: spec.volumes.map(volumeMount) } : {}),
      Memory: spec.memoryBytes,
      // No swap on top: the limit is the limit, and a runaway query meets it rather than slowing the host.
      MemorySwap: spec.memoryBytes,
      NanoCpus: spec.nanoCpus,
      ShmSize: spec.shmBytes,
      PortBindings: port
        ? { [port]: [{ HostIp: spec.publish?.hostIp ?? '', HostPort: hostPort ? String(hostPort) : '' }] }
        : undefined,
      RestartPolicy: { Name: 'no' },
      ...networkMode(spec),
      ...confinement(spec),
      // A server told to log every statement must not fill the disk Docker keeps its logs on.
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
    },
  };
}

function networkMode(spec: ContainerSpec): Docker.HostConfig {
  if (spec.network === 'host' || spec.network === 'none') return { NetworkMode: spec.network };
  return spec.dockerNetwork ? { NetworkMode: spec.dockerNetwork } : {};
}

function confinement(spec: ContainerSpec): Docker.HostConfig {
  if (!spec.confine) return {};
  return {
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    ReadonlyRootfs: true,
    Tmpfs: spec.confine.tmpfs,
    PidsLimit: spec.confine.pidsLimit,
  };
}

/** A volume made by its driver when the container is created (Docker keeps it after the container). */
export function volumeMount(v: VolumeMount): Docker.MountSettings {
  return {
    Type: 'volume',
    Source: v.name,
    Target: v.container,
    ReadOnly: v.readOnly ?? false,
    VolumeOptions: { NoCopy: true, Labels: {}, DriverConfig: { Name: v.driver, Options: v.options } },
  };
}

export function bindString(b: Bind): string {
  // Docker's bind syntax is colon-separated, so a colon inside a path would be misread.
  if (b.host.includes(':') || b.container.includes(':')) {
    throw new AppError('bad_request', `bind ${b.host} -> ${b.container} has a colon in a path: use paths without colons`);
  }
  return `${b.host}:${b.container}${b.readOnly ? ':ro' : ''}`;
}

/** Docker publishes on IPv4 and IPv6 and 20.10 may choose different ports for each; clients use IPv4. */
export function ipv4HostPort(bindings: Array<{ HostIp: string; HostPort: string }> | null | undefined): number | null {
  const b = (bindings ?? []).find((x) => !x.HostIp.includes(':') && x.HostPort !== '');
  return b ? Number(b.HostPort) : null;
}

export function fromInspect(i: Docker.ContainerInspectInfo): ContainerInfo {
  const running = i.State.Running;
  const ports = Object.values(i.NetworkSettings.Ports ?? {});
  const hostPort = ports.map((p) => ipv4HostPort(p)).find((p) => p !== null) ?? null;
  return {
    id: i.Id,
    name: i.Name.replace(/^\//, ''),
    labels: i.Config.Labels ?? {},
    running,
    hostPort: running ? hostPort : null,
    // A container that was created but never started has no exit code, whatever Docker's 0 says.
    exitCode: running || i.State.Status === 'created' ? null : i.State.ExitCode,
    oomKilled: i.State.OOMKilled === true,
  };
}

export function fromListRow(r: Docker.ContainerInfo): ContainerInfo {
  const running = r.State === 'running';
  const port = r.Ports.find((p) => p.PublicPort && !(p.IP ?? '').includes(':'));
  // The list endpoint reports the exit code only inside its human-readable status.
  const exited = /^Exited \((-?\d+)\)/.exec(r.Status);
  return {
    id: r.Id,
    name: (r.Names[0] ?? '').replace(/^\//, ''),
    labels: r.Labels ?? {},
    running,
    hostPort: running && port ? port.PublicPort : null,
    exitCode: !running && exited ? Number(exited[1]) : null,
    oomKilled: false,
  };
}

/** RSS where cgroup v1 reports it; otherwise what `docker stats` shows: usage less reclaimable page cache. */
export function residentBytes(m: Docker.MemoryStats | undefined): number | null {
  const stats = (m?.stats ?? {}) as Record<string, number | undefined>;
  if (typeof stats.rss === 'number') return stats.rss;
  if (typeof m?.usage !== 'number') return null;
  const reclaimable = stats.inactive_file ?? stats.total_inactive_file ?? stats.cache ?? 0;
  return Math.max(0, m.usage - reclaimable);
}

/** Non-TTY logs come framed: 8-byte header (stream, 0, 0, 0, length BE32) then the payload. */
export function demuxBuffer(buf: Buffer): string {
  const parts: Buffer[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const type = buf[off];
    if ((type !== 0 && type !== 1 && type !== 2) || buf[off + 1] || buf[off + 2] || buf[off + 3]) {
      return Buffer.concat([...parts, buf.subarray(off)]).toString('utf8'); // not framed (TTY)
    }
    const size = buf.readUInt32BE(off + 4);
    parts.push(buf.subarray(off + 8, off + 8 + size));
    off += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

export function endpoint(dockerHost: string | null | undefined): { options: Docker.DockerOptions; where: string } {
  const raw = dockerHost?.trim() || `unix://${DEFAULT_SOCKET}`;
  // Connection fields are always all set so that dockerode's own reading of DOCKER_HOST cannot mix in.
  if (raw.startsWith('unix://')) {
    const socketPath = raw.slice('unix://'.length) || DEFAULT_SOCKET;
    return { options: { socketPath, host: undefined, port: undefined }, where: `unix://${socketPath}` };
  }
  let url: URL | null = null;
  try {
    url = new URL(raw.includes('://') ? raw : `tcp://${raw}`);
  } catch {
    url = null;
  }
  const scheme = url?.protocol.replace(/:$/, '');
  if (!url || !url.hostname || !['tcp', 'http', 'https'].includes(scheme ?? '')) {
    throw new AppError(
      'bad_request',
      `DOCKER_HOST "${raw}" is not supported: use unix:///path/to/docker.sock or tcp://host:port`,
    );
  }
  const protocol = scheme === 'https' ? 'https' : 'http';
  const port = url.port || (protocol === 'https' ? '2376' : '2375');
  return { options: { host: url.hostname, port, protocol, socketPath: undefined }, where: `${scheme}://${url.hostname}:${port}` };
}

/** One event of the engine's stream, in our words; null for events we do not follow. */
export function fromEvent(raw: { Type?: string; Action?: string; id?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } }): RuntimeEvent | null {
  if (raw.Type !== 'container') return null;
  const kinds: Record<string, RuntimeEvent['kind']> = { die: 'died', oom: 'oom', destroy: 'removed', start: 'started' };
  const kind = kinds[raw.Action ?? ''];
  if (!kind) return null;
  const attrs = raw.Actor?.Attributes ?? {};
  // Attributes mix labels with a few of Docker's own keys (name, image, exitCode); labels are what we match on.
  return { kind, containerId: raw.Actor?.ID ?? raw.id ?? null, labels: attrs };
}
