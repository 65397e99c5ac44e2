// The Docker runtime against the real engine and the locally built postgres image. Fails (never skips)
// when Docker or the image is missing: a runtime that was never exercised has not been tested.

import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../controller/domain/errors.js';
import { createRuntime } from '../../controller/runtime/index.js';
import { createDockerRuntime } from '../../controller/runtime/docker.js';
import type { ContainerSpec } from '../../controller/runtime/runtime.js';
import { systemClock } from '../../controller/lib/clock.js';
import { retry } from '../../controller/lib/retry.js';

const IMAGE = 'myaas-local/postgres:15';
const LABEL = { 'myaas.test': 'runtime' };
const run = `${process.pid}-${randomBytes(3).toString('hex')}`;
const runtime = createRuntime('docker', { dockerHost: null });

function spec(name: string, extra: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    name: `myaas-test-runtime-${name}-${run}`,
    image: IMAGE,
    cmd: ['sleep', '300'],
    user: '999:999',
    labels: { ...LABEL, 'myaas.run': run, 'myaas.case': name },
    binds: [],
    ...extra,
  };
}

async function rejection(p: Promise<unknown>): Promise<AppError> {
  const e = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AppError);
  return e as AppError;
}

let dir: string;

beforeAll(async () => {
  await runtime.ping();
  if (!(await runtime.imageExists(IMAGE))) {
    throw new Error(`${IMAGE} is missing: build it with sudo scripts/setup-host.sh`);
  }
  dir = await mkdtemp(join(tmpdir(), 'myaas-runtime-'));
  // The container runs as uid 999 and must be able to write here.
  await chmod(dir, 0o777);
  await writeFile(join(dir, 'from-host'), 'written on the host\n');
});

afterAll(async () => {
  for (const c of await runtime.list(LABEL)) await runtime.remove(c.id);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('docker runtime', () => {
  it('runs a container through its whole life', async () => {
    const s = spec('life', {
      binds: [{ host: dir, container: '/data' }],
      publish: { containerPort: 5432 },
      memoryBytes: 256 * 1024 * 1024,
      nanoCpus: 500_000_000,
      shmBytes: 64 * 1024 * 1024,
      env: ['GREETING=hello'],
    });
    const { id, hostPort } = await runtime.start(s);
    expect(typeof hostPort).toBe('number');
    expect(hostPort).toBeGreaterThan(0);

    // What Docker recorded is what we asked for.
    const raw = await new Docker({ socketPath: '/var/run/docker.sock' }).getContainer(id).inspect();
    expect(raw.HostConfig.Memory).toBe(256 * 1024 * 1024);
    expect(raw.HostConfig.NanoCpus).toBe(500_000_000);
    expect(raw.HostConfig.ShmSize).toBe(64 * 1024 * 1024);
    expect(raw.HostConfig.RestartPolicy?.Name).toBe('no');
    expect(raw.Config.User).toBe('999:999');
    expect(raw.Config.Env).toContain('GREETING=hello');

    const who = await runtime.exec(id, ['id', '-u']);
    expect(who).toEqual({ exitCode: 0, stdout: '999\n', stderr: '' });

    const env = await runtime.exec(id, ['printenv', 'EXTRA'], { env: ['EXTRA=yes'] });
    expect(env.stdout).toBe('yes\n');
    const root = await runtime.exec(id, ['id', '-u'], { user: '0' });
    expect(root.stdout).toBe('0\n');

    // The bind mount works both ways.
    const seen = await runtime.exec(id, ['cat', '/data/from-host']);
    expect(seen.stdout).toBe('written on the host\n');
    const wrote = await runtime.exec(id, ['cp', '/data/from-host', '/data/from-container']);
    expect(wrote.exitCode).toBe(0);
    expect(await readFile(join(dir, 'from-container'), 'utf8')).toBe('written on the host\n');
    expect((await stat(join(dir, 'from-container'))).uid).toBe(999);

    const bad = await runtime.exec(id, ['cat', '/no/such/file']);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('No such file');

    const listed = await runtime.list({ ...LABEL, 'myaas.case': 'life', 'myaas.run': run });
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ id, name: s.name, running: true, hostPort, exitCode: null });
    expect(listed[0]?.labels['myaas.test']).toBe('runtime');

    const byName = await runtime.inspect(s.name);
    expect(byName).toEqual({ id, name: s.name, labels: s.labels, running: true, hostPort, exitCode: null, oomKilled: false });

    const mem = await runtime.memoryUsage(id);
    expect(typeof mem).toBe('number');
    expect(mem).toBeGreaterThan(0);

    // sleep as PID 1 ignores SIGTERM, so this also covers the fall-back to SIGKILL.
    const code = await runtime.stop(id, { signal: 'SIGTERM', timeoutSec: 1 });
    expect(typeof code).toBe('number');
    expect(await runtime.stop(id)).toBe(code);
    const stopped = await runtime.inspect(id);
    expect(stopped).toMatchObject({ running: false, hostPort: null, exitCode: code });
    const listedStopped = await runtime.list({ ...LABEL, 'myaas.case': 'life', 'myaas.run': run });
    expect(listedStopped[0]).toMatchObject({ running: false, exitCode: code });
    expect(await runtime.memoryUsage(id)).toBeNull();
    expect((await rejection(runtime.exec(id, ['id']))).code).toBe('conflict');

    await runtime.remove(id);
    await runtime.remove(id); // missing is not an error
    expect(await runtime.inspect(id)).toBeNull();
    expect(await runtime.stop(id)).toBeNull();
    expect(await runtime.memoryUsage(id)).toBeNull();
    expect(await runtime.logs(id)).toBe('');
    expect(await runtime.list({ ...LABEL, 'myaas.case': 'life', 'myaas.run': run })).toEqual([]);
  });

  it('delivers the stop signal and returns the exit code the process chose; logs show both streams', async () => {
    const { id, hostPort } = await runtime.start(
      spec('signal', {
        cmd: ['sh', '-c', 'echo started; echo complaint >&2; trap "exit 3" TERM; while :; do sleep 0.1; done'],
      }),
    );
    expect(hostPort).toBeNull();
    // The trap is set after the echoes, so seeing them in the logs means the trap is in place.
    const out = await retry(
      async () => {
        const text = await runtime.logs(id);
        if (!text.includes('complaint')) throw new Error(`logs so far: ${JSON.stringify(text)}`);
        return text;
      },
      { clock: systemClock(), deadline: Date.now() + 60_000, delay: 20, what: 'the test container printing its greeting' },
    );
    expect(out).toContain('started\n');
    expect(out).toContain('complaint\n');
    expect(await runtime.stop(id, { signal: 'SIGTERM', timeoutSec: 60 })).toBe(3);
    await runtime.remove(id);
  });

  it('reports a missing image as bad_request and leaves no container behind', async () => {
    const s = spec('noimage', { image: 'myaas-local/does-not-exist:0' });
    const e = await rejection(runtime.start(s));
    expect(e.code).toBe('bad_request');
    expect(e.message).toContain('myaas-local/does-not-exist:0');
    expect(e.message).toContain('setup-host.sh');
    expect(await runtime.list({ ...LABEL, 'myaas.case': 'noimage', 'myaas.run': run })).toEqual([]);
    expect(await runtime.imageExists('myaas-local/does-not-exist:0')).toBe(false);
  });

  it('reports a taken host port as conflict and removes the half-made container', async () => {
    const first = await runtime.start(spec('port-a', { publish: { containerPort: 5432 } }));
    expect(first.hostPort).not.toBeNull();
    const second = spec('port-b', { publish: { containerPort: 5432, hostPort: first.hostPort ?? 0 } });
    const e = await rejection(runtime.start(second));
    expect(e.code).toBe('conflict');
    expect(e.message).toContain(String(first.hostPort));
    expect(await runtime.list({ ...LABEL, 'myaas.case': 'port-b', 'myaas.run': run })).toEqual([]);
    expect(await runtime.inspect(second.name)).toBeNull();
    await runtime.remove(first.id);
  });

  it('reports a second container of the same name as conflict', async () => {
    const s = spec('dup');
    const { id } = await runtime.start(s);
    expect((await rejection(runtime.start(s))).code).toBe('conflict');
    expect(await runtime.list({ ...LABEL, 'myaas.case': 'dup', 'myaas.run': run })).toHaveLength(1);
    await runtime.remove(id);
  });

  it('removes the container when the command cannot start', async () => {
    const s = spec('nocmd', { cmd: ['/no/such/binary'] });
    const e = await rejection(runtime.start(s));
    expect(e.message).toContain('/no/such/binary');
    expect(await runtime.inspect(s.name)).toBeNull();
  });

  it('says docker_unavailable, naming the socket, when the engine does not answer', async () => {
    const dead = createDockerRuntime({ dockerHost: 'unix:///tmp/nonexistent.sock' });
    const e = await rejection(dead.ping());
    expect(e.code).toBe('docker_unavailable');
    expect(e.message).toContain('/tmp/nonexistent.sock');
    expect(e.message).toContain('DOCKER_HOST');
    expect((await rejection(dead.list(LABEL))).code).toBe('docker_unavailable');
    expect((await rejection(dead.start(spec('dead')))).code).toBe('docker_unavailable');
  });

  it('refuses an unknown runtime kind', () => {
    expect(() => createRuntime('podman' as 'docker', {})).toThrow(AppError);
  });
});
