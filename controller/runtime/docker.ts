// The runtime over a Docker engine, through dockerode. Every engine failure leaves here as an
// AppError that says what to do; an unreachable engine always reads the same (docker_unavailable).

import { Writable } from 'node:stream';
import Docker from 'dockerode';
import { AppError, isAppError } from '../domain/errors.js';
import { createOptions, demuxBuffer, endpoint, fromInspect, fromListRow, ipv4HostPort, residentBytes } from './docker-map.js';
import type { ContainerInfo, ExecOutput, Runtime } from './runtime.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { isUnreachable } from '../lib/net-errors.js';
import { watchEvents } from './docker-events.js';

/** How long stop() waits for the exit that follows SIGKILL; the kernel makes that quick. */
const AFTER_KILL_MS = 30_000;
/** Exec output can end a moment before Docker records the exit code. */
const EXEC_EXIT_MS = 10_000;

export function createDockerRuntime(opts: { dockerHost?: string | null }): Runtime {
  const { options, where } = endpoint(opts.dockerHost);
  const docker = new Docker(options);

  /** Maps anything dockerode throws to an AppError; `doing` names the step for the message. */
  function fail(e: unknown, doing: string): never {
    if (isAppError(e)) throw e;
    if (isUnreachable(e)) throw unavailable(where, e);
    throw new AppError(
      'internal',
      `Docker failed while ${doing}: ${dockerMessage(e)}; check the Docker engine's log (journalctl -u docker) and try again`,
    );
  }

  async function inspectRaw(id: string): Promise<Docker.ContainerInspectInfo | null> {
    try {
      return await docker.getContainer(id).inspect();
    } catch (e) {
      if (statusOf(e) === 404) return null;
      fail(e, `inspecting container ${id}`);
    }
  }

  async function removeQuietly(id: string): Promise<void> {
    try {
      await docker.getContainer(id).remove({ force: true, v: true });
    } catch (e) {
      const s = statusOf(e);
      // 409 means another removal of the same container is already under way.
      if (s === 404 || (s === 409 && /in progress/i.test(dockerMessage(e)))) return;
      fail(e, `removing container ${id}`);
    }
  }

  /** The exit code, null if the container is gone, undefined if it is still running after `ms`. */
  async function waitExit(c: Docker.Container, ms: number): Promise<number | null | undefined> {
    const signal = AbortSignal.timeout(ms);
    try {
      const r = (await c.wait({ abortSignal: signal })) as { StatusCode: number };
      return r.StatusCode;
    } catch (e) {
      if (signal.aborted) return undefined;
      if (statusOf(e) === 404) return null;
      fail(e, `waiting for container ${c.id} to exit`);
    }
  }

  /** Sends a signal; false when the container is gone. Not running (409) is fine: it is exiting. */
  async function kill(c: Docker.Container, signal: string): Promise<boolean> {
    try {
      await c.kill({ signal });
      return true;
    } catch (e) {
      if (statusOf(e) === 404) return false;
      if (statusOf(e) === 409) return true;
      fail(e, `sending ${signal} to container ${c.id}`);
    }
  }

  async function logs(id: string, tail = 50): Promise<string> {
    try {
      const out: unknown = await docker.getContainer(id).logs({ stdout: true, stderr: true, tail, follow: false });
      return Buffer.isBuffer(out) ? demuxBuffer(out) : typeof out === 'string' ? out : JSON.stringify(out);
    } catch (e) {
      // Logs feed error messages: a container that is already gone simply has none.
      if (statusOf(e) === 404) return '';
      fail(e, `reading the output of container ${id}`);
    }
  }

  async function list(labels: Record<string, string>): Promise<ContainerInfo[]> {
    const label = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
    try {
      const rows = await docker.listContainers({ all: true, filters: { label } });
      return rows.map(fromListRow);
    } catch (e) {
      fail(e, 'listing containers');
    }
  }

  return {
    async ping() {
      try {
        await docker.ping();
      } catch (e) {
        throw unavailable(where, e);
      }
    },

    async imageExists(image) {
      try {
        await docker.getImage(image).inspect();
        return true;
      } catch (e) {
        if (statusOf(e) === 404) return false;
        fail(e, `looking up image ${image}`);
      }
    },

    async start(spec) {
      const port = spec.publish && spec.network !== 'host' ? `${spec.publish.containerPort}/tcp` : null;
      let container: Docker.Container;
      try {
        container = await docker.createContainer(createOptions(spec, port));
      } catch (e) {
        const s = statusOf(e);
        if (s === 404) throw missingImage(spec.image);
        if (s === 409) {
          throw new AppError(
            'conflict',
            `a container named ${spec.name} already exists: remove it (docker rm -f ${spec.name}) or wait for the reconciler to clean it up`,
          );
        }
        fail(e, `creating container ${spec.name}`);
      }
      try {
        await container.start().catch((e: unknown) => {
          if (spec.publish?.hostPort && /already allocated|address already in use/i.test(dockerMessage(e))) {
            throw new AppError(
              'conflict',
              `host port ${spec.publish.hostPort} is already in use on this machine: free it, or pick another port (leave it unset to let Docker choose)`,
            );
          }
          if (isAppError(e) || isUnreachable(e)) fail(e, `starting container ${spec.name}`);
          throw new AppError(
            'internal',
            `container ${spec.name} could not start: ${dockerMessage(e)}; check that image ${spec.image} has ${spec.cmd[0] ?? 'the command'} and that the bind mounts exist`,
          );
        });
        if (!port) return { id: container.id, hostPort: null };
        const info = await container.inspect();
        const hostPort = ipv4HostPort(info.NetworkSettings.Ports?.[port]);
        if (hostPort === null) {
          // Docker drops port bindings when the process exits, so the server died at once.
          const output = await logs(container.id, 20).catch(() => '');
          throw new AppError(
            'internal',
            `container ${spec.name} exited right after starting (exit code ${info.State.ExitCode}); its output: ${output.trim() || '(none)'}; fix the image or command and retry`,
          );
        }
        return { id: container.id, hostPort };
      } catch (e) {
        await removeQuietly(container.id).catch(() => undefined);
        fail(e, `starting container ${spec.name}`);
      }
    },

    async exec(id, cmd, opts = {}) {
      let ex: Docker.Exec;
      try {
        ex = await docker.getContainer(id).exec({
          Cmd: cmd,
          User: opts.user,
          Env: opts.env,
          AttachStdin: false,
          AttachStdout: true,
          AttachStderr: true,
          Tty: false,
        });
      } catch (e) {
        if (statusOf(e) === 404) {
          throw new AppError('not_found', `container ${id} does not exist: it was removed; recreate the instance`);
        }
        if (statusOf(e) === 409) {
          throw new AppError('conflict', `container ${id} is not running: start it (or recreate the instance) before running ${cmd[0]}`);
        }
        fail(e, `running ${cmd[0]} in container ${id}`);
      }
      try {
        const stream = await ex.start({ hijack: true, stdin: false });
        const stdout = collector();
        const stderr = collector();
        await new Promise<void>((resolve, reject) => {
          docker.modem.demuxStream(stream, stdout.sink, stderr.sink);
          stream.on('end', resolve);
          stream.on('close', resolve);
          stream.on('error', reject);
        });
        const deadline = Date.now() + EXEC_EXIT_MS;
        for (;;) {
          const info = await ex.inspect();
          if (!info.Running && info.ExitCode !== null) {
            return { exitCode: info.ExitCode, stdout: stdout.text(), stderr: stderr.text() } satisfies ExecOutput;
          }
          if (Date.now() > deadline) throw new Error('its output ended but Docker never reported an exit code');
          await sleep(20);
        }
      } catch (e) {
        fail(e, `running ${cmd[0]} in container ${id}`);
      }
    },

    async stop(id, opts = {}) {
      const signal = opts.signal ?? 'SIGTERM';
      const timeoutMs = Math.max(0, opts.timeoutSec ?? 10) * 1000;
      const before = await inspectRaw(id);
      if (!before) return null;
      if (!before.State.Running) return before.State.ExitCode;
      const c = docker.getContainer(before.Id);
      if (!(await kill(c, signal))) return null;
      const code = timeoutMs > 0 ? await waitExit(c, timeoutMs) : undefined;
      if (code !== undefined) return code;
      if (!(await kill(c, 'SIGKILL'))) return null;
      const killed = await waitExit(c, AFTER_KILL_MS);
      if (killed !== undefined) return killed;
      throw new AppError(
        'timeout',
        `container ${id} did not exit within ${AFTER_KILL_MS / 1000} s of SIGKILL: check the Docker engine (journalctl -u docker), then remove it with docker rm -f`,
      );
    },

    async remove(id) {
      await removeQuietly(id);
    },

    async removeAll(labels) {
      const found = await list(labels);
      for (const c of found) await removeQuietly(c.id);
      return found.length;
    },

    list,

    async inspect(id) {
      const info = await inspectRaw(id);
      return info ? fromInspect(info) : null;
    },

    watch: (labels, onEvent) => watchEvents(docker, labels, onEvent),

    async memoryUsage(id) {
      let stats: Docker.ContainerStats;
      try {
        // one-shot skips the second sample Docker otherwise takes to compute CPU usage.
        stats = await docker.getContainer(id).stats({ stream: false, 'one-shot': true });
      } catch (e) {
        if (statusOf(e) === 404) return null;
        fail(e, `reading memory use of container ${id}`);
      }
      return residentBytes(stats.memory_stats);
    },

    logs,
  };
}

function collector(): { sink: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  return { sink, text: () => Buffer.concat(chunks).toString('utf8') };
}

function unavailable(where: string, e: unknown): AppError {
  const why = (e as { code?: unknown } | null)?.code ?? dockerMessage(e);
  return new AppError(
    'docker_unavailable',
    `the Docker engine at ${where} does not answer (${String(why)}): start Docker (\`sudo scripts/setup-host.sh\` starts one) or set DOCKER_HOST to a running engine`,
  );
}

function missingImage(image: string): AppError {
  return new AppError(
    'bad_request',
    `image ${image} is not present on this Docker engine: build the local images with \`sudo scripts/setup-host.sh\` or load/pull it, or set MYAAS_POSTGRES_IMAGE / MYAAS_MARIADB_IMAGE`,
  );
}

function statusOf(e: unknown): number | undefined {
  const s = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** Docker's own words (the JSON body's message) rather than dockerode's "(HTTP code …)" wrapper. */
function dockerMessage(e: unknown): string {
  const json = (e as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === 'string') return json.message;
  return e instanceof Error ? e.message : String(e);
}
