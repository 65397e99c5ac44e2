// The Swarm runtime's translation of an instance spec into a service, and of tasks back.
import { describe, expect, it } from 'vitest';
import { currentTask, hostPortOf, placementFix, serviceSpec, tmpfsOptions, toInfo, toNode, type SwarmNode, type SwarmSpec, type SwarmTask } from '../../controller/runtime/swarm-map.js';

const spec: SwarmSpec = {
  name: 'myaas-iabc',
  image: 'sha256:' + 'a'.repeat(64),
  cmd: ['postgres', '-D', '/var/lib/postgresql/data'],
  user: '999:999',
  labels: { 'myaas.instance': 'iabc' },
  binds: [{ host: '/srv/x', container: '/x', readOnly: true }],
  volumes: [{ name: 'myaas-iabc', container: '/var/lib/postgresql/data', driver: 'myaas', options: { template: 'chinook', version: 'v1' } }],
  publish: { containerPort: 5432 },
  memoryBytes: 512 * 1024 * 1024,
  nanoCpus: 1e9,
  reserveMemoryBytes: 64 * 1024 * 1024,
  shmBytes: 128 * 1024 * 1024,
  constraints: ['node.labels.myaas.node==node2'],
  stopSignal: 'SIGINT',
};

const task = (over: Partial<SwarmTask> & { state: string; at: string; port?: number; code?: number }): SwarmTask => ({
  ID: over.at,
  ServiceID: 's1',
  NodeID: 'n1',
  DesiredState: 'running',
  CreatedAt: over.at,
  Status: {
    State: over.state,
    ContainerStatus: { ContainerID: 'c', ExitCode: over.code },
    PortStatus: over.port ? { Ports: [{ TargetPort: 5432, PublishedPort: over.port, PublishMode: 'host' }] } : undefined,
  },
});

describe('serviceSpec', () => {
  it('makes a one-replica dnsrr service with host-mode port, the volume driver mount, limits, reservations and placement', () => {
    const s = serviceSpec(spec) as any;
    expect(s.Name).toBe('myaas-iabc');
    expect(s.Mode).toEqual({ Replicated: { Replicas: 1 } });
    expect(s.EndpointSpec).toEqual({ Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 5432, PublishedPort: undefined, PublishMode: 'host' }] });
    const c = s.TaskTemplate.ContainerSpec;
    expect(c.Command).toEqual(spec.cmd);
    expect(c.Args).toBeUndefined();
    expect(c.Labels).toEqual(spec.labels);
    expect(c.Mounts).toEqual([
      { Type: 'bind', Source: '/srv/x', Target: '/x', ReadOnly: true },
      { Type: 'volume', Source: 'myaas-iabc', Target: '/var/lib/postgresql/data', ReadOnly: false, VolumeOptions: { NoCopy: true, Labels: spec.labels, DriverConfig: { Name: 'myaas', Options: { template: 'chinook', version: 'v1' } } } },
      { Type: 'tmpfs', Source: '', Target: '/dev/shm', TmpfsOptions: { SizeBytes: 128 * 1024 * 1024, Mode: 0o1777 } },
    ]);
    expect(s.TaskTemplate.Resources).toEqual({ Limits: { MemoryBytes: spec.memoryBytes, NanoCPUs: 1e9 }, Reservations: { MemoryBytes: 64 * 1024 * 1024, NanoCPUs: undefined } });
    expect(s.TaskTemplate.Placement).toEqual({ Constraints: ['node.labels.myaas.node==node2'] });
    expect(s.TaskTemplate.RestartPolicy.Condition).toBe('any');
  });

  it('keeps a chosen port, makes services ahead with 0 replicas, and refuses a published port on the host network', () => {
    const s = serviceSpec({ ...spec, publish: { containerPort: 5432, hostPort: 20001 }, replicas: 0 }) as any;
    expect(s.EndpointSpec.Ports[0].PublishedPort).toBe(20001);
    expect(s.Mode.Replicated.Replicas).toBe(0);
    expect(() => serviceSpec({ ...spec, network: 'host' })).toThrow(/host network publishes no port/);
    expect((serviceSpec({ ...spec, network: 'host', publish: undefined }) as any).TaskTemplate.Networks).toEqual([{ Target: 'host' }]);
  });
});

describe('secret files on Swarm', () => {
  it('hands the secrets made for the files to the container at their targets, owned and moded as asked', () => {
    const refs = [
      { id: 's1', name: 'myaas-aaa', target: '/etc/myaas/tls/server.crt', uid: '999', gid: '999', mode: 0o444 },
      { id: 's2', name: 'myaas-bbb', target: '/etc/myaas/tls/server.key', uid: '999', gid: '999', mode: 0o400 },
    ];
    const c = (serviceSpec({ ...spec, secretRefs: refs }) as any).TaskTemplate.ContainerSpec;
    expect(c.Secrets).toEqual([
      { SecretID: 's1', SecretName: 'myaas-aaa', File: { Name: '/etc/myaas/tls/server.crt', UID: '999', GID: '999', Mode: 0o444 } },
      { SecretID: 's2', SecretName: 'myaas-bbb', File: { Name: '/etc/myaas/tls/server.key', UID: '999', GID: '999', Mode: 0o400 } },
    ]);
    // Nothing of a file's content in the labels or the environment.
    expect(JSON.stringify(c.Labels) + JSON.stringify(c.Env)).not.toMatch(/server\.key/);
    expect((serviceSpec(spec) as any).TaskTemplate.ContainerSpec.Secrets).toBeUndefined();
  });
});

describe('confinement on Swarm', () => {
  it('holds the server in as far as the API carries it: read-only root, tmpfs, no capabilities, a pids cap', () => {
    const s = serviceSpec({ ...spec, confine: { tmpfs: { '/tmp': 'rw,noexec,nosuid,nodev,mode=1777,size=64m', '/run/postgresql': 'size=1g' }, pidsLimit: 256 } }) as any;
    const c = s.TaskTemplate.ContainerSpec;
    expect(c.ReadOnly).toBe(true);
    expect(c.CapabilityDrop).toEqual(['ALL']);
    expect(s.TaskTemplate.Resources.Limits.Pids).toBe(256);
    expect(c.Mounts.filter((m: any) => m.Type === 'tmpfs' && m.Target !== '/dev/shm')).toEqual([
      { Type: 'tmpfs', Source: '', Target: '/tmp', TmpfsOptions: { SizeBytes: 64 * 1024 ** 2, Mode: 0o1777 } },
      { Type: 'tmpfs', Source: '', Target: '/run/postgresql', TmpfsOptions: { SizeBytes: 1024 ** 3, Mode: 0o1777 } },
    ]);
    const open = serviceSpec(spec) as any;
    expect(open.TaskTemplate.ContainerSpec.ReadOnly).toBeUndefined();
    expect(open.TaskTemplate.Resources.Limits.Pids).toBeUndefined();
  });

  it('reads tmpfs sizes and modes, and refuses a size it cannot read', () => {
    expect(tmpfsOptions('mode=0700,size=512k')).toEqual({ SizeBytes: 512 * 1024, Mode: 0o700 });
    expect(tmpfsOptions('rw,noexec')).toEqual({ SizeBytes: 0, Mode: 0o1777 });
    expect(() => tmpfsOptions('size=lots')).toThrow(/not a number of bytes/);
  });
});

describe('tasks', () => {
  it('a lost node\'s task still reported running does not speak for the service: its replacement does', () => {
    const stale = { ...task({ state: 'running', at: '2026-01-01T00:00:00Z', port: 30001 }), DesiredState: 'shutdown', NodeID: 'lost' };
    const pending = { ...task({ state: 'pending', at: '2026-01-01T00:00:05Z' }), NodeID: 'other' };
    expect(currentTask([stale, pending])).toBe(pending);
    const running = { ...pending, Status: { ...pending.Status, State: 'running' } };
    expect(currentTask([stale, running])).toBe(running);
    // Scaled to zero: nothing is wanted running; the newest speaks.
    const down = { ...stale, DesiredState: 'shutdown', Status: { ...stale.Status, State: 'shutdown' } };
    expect(currentTask([down])).toBe(down);
  });

  it('speaks for a service with its running task, else its newest', () => {
    const old = task({ state: 'failed', at: '2026-01-01T00:00:01Z', code: 1 });
    const run = task({ state: 'running', at: '2026-01-01T00:00:00Z', port: 30001 });
    expect(currentTask([old, run])).toBe(run);
    expect(currentTask([old])).toBe(old);
    expect(hostPortOf(run)).toBe(30001);
    expect(hostPortOf(old)).toBeNull();
  });

  it('reports running with its port, and an exit code only once the task ended', () => {
    const svc = { ID: 's1', Spec: { Name: 'myaas-iabc', Labels: { a: 'b' } } };
    expect(toInfo(svc, task({ state: 'running', at: 'x', port: 30001 }), null)).toMatchObject({ id: 's1', name: 'myaas-iabc', running: true, hostPort: 30001, exitCode: null });
    expect(toInfo(svc, task({ state: 'shutdown', at: 'x', code: 0 }), null)).toMatchObject({ running: false, hostPort: null, exitCode: 0 });
    expect(toInfo(svc, task({ state: 'starting', at: 'x' }), null)).toMatchObject({ running: false, exitCode: null });
    expect(toInfo(svc, undefined, null)).toMatchObject({ running: false, exitCode: null, labels: { a: 'b' } });
  });
});

describe('holding a placed service on its node', () => {
  const node = (id: string, over: Partial<SwarmNode> = {}): SwarmNode => ({ id, hostname: id, addr: '10.0.0.1', labels: {}, ready: true, schedulable: true, ...over });
  const nodes = (...ns: SwarmNode[]) => new Map(ns.map((n) => [n.id, n]));
  const base = ['node.labels.myaas.has.v1==true'];

  it('holds a service whose task runs on a healthy node there, keeping its other constraints', () => {
    expect(placementFix(base, task({ state: 'running', at: '1' }), nodes(node('n1')))).toEqual([...base, 'node.id==n1']);
  });

  it('leaves alone a service not running yet, or already held on a healthy node', () => {
    expect(placementFix(base, task({ state: 'pending', at: '1' }), nodes(node('n1')))).toBeNull();
    expect(placementFix(base, undefined, nodes(node('n1')))).toBeNull();
    expect(placementFix([...base, 'node.id==n1'], task({ state: 'running', at: '1' }), nodes(node('n1')))).toBeNull();
    // a task Swarm is shutting down is not a placement to hold
    expect(placementFix(base, { ...task({ state: 'running', at: '1' }), DesiredState: 'shutdown' }, nodes(node('n1')))).toBeNull();
  });

  it('lets go of a service held on a node that is down, drained or gone, so that Swarm places it elsewhere', () => {
    const held = [...base, 'node.id==n1'];
    expect(placementFix(held, task({ state: 'pending', at: '1' }), nodes(node('n1', { ready: false })))).toEqual(base);
    expect(placementFix(held, task({ state: 'running', at: '1' }), nodes(node('n1', { schedulable: false })))).toEqual(base);
    expect(placementFix(held, task({ state: 'pending', at: '1' }), nodes(node('n2')))).toEqual(base);
  });

  it('does not hold a task on a node that takes no new task', () => {
    expect(placementFix(base, task({ state: 'running', at: '1' }), nodes(node('n1', { schedulable: false })))).toBeNull();
  });

  it('reads a node\'s availability', () => {
    expect(toNode({ ID: 'n1', Status: { State: 'ready' }, Spec: { Availability: 'drain' } }).schedulable).toBe(false);
    expect(toNode({ ID: 'n1', Status: { State: 'ready' }, Spec: { Availability: 'active' } }).schedulable).toBe(true);
  });
});
