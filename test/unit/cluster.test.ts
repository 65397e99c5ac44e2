// Many hosts, without a Swarm: the split runtime's routing, the cluster sync's shipping and labelling
// decisions, and the swarm configuration keys.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../controller/config.js';
import type { TemplateVersion } from '../../controller/domain/types.js';
import { createClusterSync, type ClusterNode } from '../../controller/jobs/cluster-sync.js';
import type { ContainerInfo, Runtime, RuntimeEvent } from '../../controller/runtime/runtime.js';
import { createSplitRuntime } from '../../controller/runtime/split.js';
import { createMemoryLogger } from '../helpers/webhook-fixtures.js';

/** A runtime that records what it was asked and knows the ids it was given. */
function fakeRuntime(name: string, ids: string[]) {
  const calls: string[] = [];
  const info = (id: string): ContainerInfo => ({ id, name: id, labels: {}, running: true, hostPort: 1, exitCode: null, oomKilled: false });
  const rt: Runtime = {
    ping: async () => void calls.push(`${name} ping`),
    imageExists: async () => true,
    start: async (spec) => (calls.push(`${name} start ${spec.name}`), { id: `${name}-id`, hostPort: 1 }),
    exec: async (id) => (calls.push(`${name} exec ${id}`), { exitCode: 0, stdout: '', stderr: '' }),
    stop: async (id) => (calls.push(`${name} stop ${id}`), 0),
    remove: async (id) => void calls.push(`${name} remove ${id}`),
    removeAll: async () => (calls.push(`${name} removeAll`), 1),
    list: async () => ids.map(info),
    inspect: async (id) => (calls.push(`${name} inspect ${id}`), ids.includes(id) ? info(id) : null),
    watch: (_l, on: (e: RuntimeEvent) => void) => (calls.push(`${name} watch`), () => void on),
    memoryUsage: async () => 1,
    logs: async (id) => (calls.push(`${name} logs ${id}`), ''),
  };
  return { rt, calls };
}

describe('split runtime', () => {
  const container = 'c'.repeat(64).replace(/c/g, 'a');
  const service = 'q1w2e3r4t5y6u7i8o9p0a1s2d';
  const make = () => {
    const local = fakeRuntime('local', [container, 'myaas-import-v1']);
    const cluster = fakeRuntime('cluster', [service, 'myaas-i1']);
    const rt = createSplitRuntime({ local: local.rt, cluster: cluster.rt, onCluster: (l) => l['myaas.role'] === 'instance' });
    return { rt, local, cluster };
  };

  it('starts instances on the cluster and imports on this host, by their labels', async () => {
    const { rt, local, cluster } = make();
    const base = { image: 'x', cmd: [], user: '1:1', binds: [] };
    expect((await rt.start({ ...base, name: 'myaas-i1', labels: { 'myaas.role': 'instance' } })).id).toBe('cluster-id');
    expect((await rt.start({ ...base, name: 'myaas-import-v1', labels: { 'myaas.role': 'import' } })).id).toBe('local-id');
    expect(cluster.calls).toEqual(['cluster start myaas-i1']);
    expect(local.calls).toEqual(['local start myaas-import-v1']);
  });

  it('routes by id shape afterwards, asks both for a name, and lists and watches both', async () => {
    const { rt, local, cluster } = make();
    await rt.exec(container, ['true']);
    await rt.stop(service);
    expect(local.calls).toEqual([`local exec ${container}`]);
    expect(cluster.calls).toEqual([`cluster stop ${service}`]);
    expect((await rt.inspect('myaas-import-v1'))?.id).toBe('myaas-import-v1');
    expect(cluster.calls).toContain('cluster inspect myaas-import-v1');
    await rt.remove('myaas-i1');
    expect(cluster.calls).toContain('cluster remove myaas-i1');
    expect(local.calls).toContain('local remove myaas-i1');
    expect((await rt.list({})).map((c) => c.id)).toEqual([service, 'myaas-i1', container, 'myaas-import-v1']);
    // The cluster's own count (its fake says 1), and this host's containers one by one.
    expect(await rt.removeAll({})).toBe(3);
    expect(local.calls).toContain(`local remove ${container}`);
    rt.watch({}, () => undefined)();
    expect(cluster.calls).toContain('cluster watch');
    expect(local.calls).toContain('local watch');
  });

  it('leaves alone the Swarm task containers this host\'s engine also runs (a controller on a node)', async () => {
    // On a Swarm node the local engine also runs the tasks of instance services, with the services'
    // labels: they are the cluster's, reported through their services, never this host's containers.
    const task = 'b'.repeat(64);
    const local = fakeRuntime('local', [container, task]);
    const taskLabels = { 'myaas.role': 'instance', 'myaas.instance': 'i1', 'com.docker.swarm.task.id': 'x1', 'com.docker.swarm.service.id': service };
    local.rt.list = async () => [container, task].map((id) => ({ id, name: id, labels: id === task ? taskLabels : { 'myaas.role': 'import' }, running: true, hostPort: null, exitCode: null, oomKilled: false }));
    local.rt.watch = (_l, on) => {
      on({ kind: 'died', containerId: task, labels: taskLabels });
      on({ kind: 'died', containerId: container, labels: { 'myaas.role': 'import' } });
      return () => undefined;
    };
    const cluster = fakeRuntime('cluster', [service]);
    const rt = createSplitRuntime({ local: local.rt, cluster: cluster.rt, onCluster: (l) => l['myaas.role'] === 'instance' });
    expect((await rt.list({})).map((c) => c.id)).toEqual([service, container]);
    expect(await rt.removeAll({})).toBe(2);
    expect(local.calls).toContain(`local remove ${container}`);
    expect(local.calls).not.toContain(`local remove ${task}`);
    const seen: Array<string | null> = [];
    rt.watch({}, (e) => seen.push(e.containerId))();
    expect(seen).toEqual([container]);
  });
});

describe('cluster sync', () => {
  const version = (id: string, template: string, status: TemplateVersion['status']) => ({ id, template, status }) as TemplateVersion;

  function world(o: { nodes: ClusterNode[]; on: Record<string, Record<string, string[]>>; versions: TemplateVersion[]; inUse?: string[]; failShipTo?: string; failListOn?: string; reach?: string[]; free?: Record<string, number>; pinned?: string[]; here?: Record<string, string[]> }) {
    const shipped: string[] = [];
    const fetched: string[] = [];
    const log = createMemoryLogger();
    // This controller's own pool: by default every version it knows (it imported them).
    const here: Record<string, string[]> = o.here ?? {};
    if (!o.here) for (const v of o.versions) (here[v.template] ??= []).push(v.id);
    const removed: string[] = [];
    const labelled: Array<[string, Record<string, string>]> = [];
    const unlabelled: Array<[string, string[]]> = [];
    const sync = createClusterSync({
      nodes: {
        nodes: async () => o.nodes,
        labelNode: async (id, labels) => void labelled.push([id, labels]),
        unlabelNode: async (id, keys) => void unlabelled.push([id, keys]),
        pruneVolumes: async () => [],
      },
      shipping: {
        reaches: (node) => (o.reach ?? o.nodes.map((n) => n.hostname)).includes(node),
        versionsOn: async (node, template) => {
          if (node === o.failListOn) throw new Error(`node ${node}'s pool agent (http://${node}:5002): the request's token is not valid here`);
          return [...(o.on[node]?.[template] ?? [])];
        },
        ship: async (node, template, v, parents) => {
          if (node === o.failShipTo) throw new Error('disk full');
          shipped.push(`${template}/${v}->${node} parents ${parents.join(',') || '-'}`);
          (o.on[node] ??= {})[template] = [...(o.on[node]?.[template] ?? []), v];
          return { parent: parents.at(-1) ?? null, streamBytes: 100, ms: 5, alreadyThere: false };
        },
        space: async (node) => ({ totalBytes: 1000, freeBytes: o.free?.[node] ?? 900 }),
        remove: async (node, template, v) => void removed.push(`${template}/${v}@${node}`),
        versionsHere: async (template) => [...(here[template] ?? [])],
        fetch: async (node, template, v, parents) => {
          fetched.push(`${template}/${v}<-${node} parents ${parents.join(',') || '-'}`);
          (here[template] ??= []).push(v);
          return { parent: parents.at(-1) ?? null, streamBytes: 100, ms: 5, alreadyThere: false };
        },
      },
      store: {
        listVersions: async () => o.versions,
        versionsInUse: async () => new Set(o.inUse ?? []),
      },
      home: '/var/lib/myaas',
      reserveBytes: (total) => total / 10,
      pinned: new Set(o.pinned ?? []),
      log,
    });
    return { sync, shipped, fetched, labelled, unlabelled, removed, log };
  }
  const node = (hostname: string, over: Partial<ClusterNode> = {}): ClusterNode => ({ id: `id-${hostname}`, hostname, ready: true, labels: {}, ...over });

  it('copies into its own pool a version another controller imported, from a node that has it, then ships it on from there', async () => {
    const w = world({
      nodes: [node('n1'), node('n2', { ready: false }), node('n3')],
      on: { n1: { chinook: ['v1', 'v2'] }, n2: { chinook: ['v1', 'v2'] } },
      versions: [version('v1', 'chinook', 'retired'), version('v2', 'chinook', 'ready')],
      inUse: ['v1'],
      here: { chinook: ['v1'] },
    });
    const r = await w.sync.sync();
    // From the first ready node holding it, incremental against what this pool has.
    expect(w.fetched).toEqual(['chinook/v2<-n1 parents v1']);
    expect(r.fetched).toEqual([{ node: 'n1', template: 'chinook', version: 'v2', ms: 5, bytes: 100 }]);
    expect(w.shipped).toEqual(['chinook/v1->n3 parents -', 'chinook/v2->n3 parents v1']);
  });

  it('a node whose pool cannot be read (its agent down or refusing) is said and skipped; the other nodes get their versions', async () => {
    const w = world({ nodes: [node('n1'), node('n2')], on: {}, versions: [version('v1', 'chinook', 'ready')], failListOn: 'n1' });
    const r = await w.sync.sync();
    expect(w.shipped).toEqual(['chinook/v1->n2 parents -']);
    expect(r.failed).toEqual([{ node: 'n1', template: 'chinook', version: null, error: expect.stringMatching(/token is not valid here/) }]);
    expect(w.labelled.filter(([, l]) => 'myaas.has.v1' in l).map(([id]) => id)).toEqual(['id-n2']);
    const said = w.log.text().split('\n').find((l) => l.includes('could not read a node\'s pool'));
    expect(said).toMatch(/token is not valid here/);
  });

  it('a version in no pool at all is neither shipped nor labelled, and said', async () => {
    const w = world({ nodes: [node('n1')], on: {}, versions: [version('v2', 'chinook', 'ready')], here: {} });
    const r = await w.sync.sync();
    expect(w.fetched).toEqual([]);
    expect(w.shipped).toEqual([]);
    expect(r.failed).toEqual([]);
    expect(w.labelled.flatMap(([, l]) => Object.keys(l))).not.toContain('myaas.has.v2');
    expect(w.log.text()).toMatch(/in neither this controller's pool nor any node's: it is not shipped; import the template again/);
    // Said once, not at every sweep; said again if it turns up and is lost once more.
    await w.sync.sync();
    await w.sync.sync();
    const said = () => w.log.text().split('\n').filter((l) => l.includes('in neither this controller')).length;
    expect(said()).toBe(1);
  });

  it('ships what a node lacks (incremental against what it has), labels it, and skips nodes that are down', async () => {
    const w = world({
      nodes: [node('n1', { labels: { 'myaas.has.v1': 'true' } }), node('n2'), node('n3', { ready: false })],
      on: { n1: { chinook: ['v1'] } },
      versions: [version('v1', 'chinook', 'retired'), version('v2', 'chinook', 'ready'), version('v0', 'chinook', 'retired')],
      inUse: ['v1'],
    });
    const r = await w.sync.sync();
    // v0 is retired and unused: not shipped; v1 is in use; v2 is latest.
    expect(w.shipped).toEqual(['chinook/v2->n1 parents v1', 'chinook/v1->n2 parents -', 'chinook/v2->n2 parents v1']);
    expect(w.labelled).toEqual([
      ['id-n1', { 'myaas.pool.full': 'false', 'myaas.has.v2': 'true' }],
      ['id-n2', { 'myaas.pool.full': 'false', 'myaas.has.v1': 'true', 'myaas.has.v2': 'true' }],
    ]);
    expect(r.shipped).toHaveLength(3);
    // A second pass has nothing to do (labels are read from the nodes, which now carry them).
    const again = world({
      nodes: [node('n1', { labels: { 'myaas.has.v1': 'true', 'myaas.has.v2': 'true', 'myaas.pool.full': 'false' } })],
      on: { n1: { chinook: ['v1', 'v2'] } },
      versions: [version('v1', 'chinook', 'retired'), version('v2', 'chinook', 'ready')],
      inUse: ['v1'],
    });
    await again.sync.sync();
    expect(again.shipped).toEqual([]);
    expect(again.labelled).toEqual([]);
  });

  it('removes from the nodes what is retired and unused (label first), keeping versions in use or pinned', async () => {
    const w = world({
      nodes: [node('n1', { labels: { 'myaas.has.v0': 'true', 'myaas.has.v1': 'true', 'myaas.has.v2': 'true', 'myaas.has.p1': 'true', 'myaas.pool.full': 'false' } })],
      on: { n1: { chinook: ['p1', 'v0', 'v1', 'v2'], gone: ['g1'] } },
      versions: [version('p1', 'chinook', 'retired'), version('v0', 'chinook', 'retired'), version('v1', 'chinook', 'retired'), version('v2', 'chinook', 'ready'), version('g1', 'gone', 'retired')],
      inUse: ['v1'],
      pinned: ['p1'],
    });
    const r = await w.sync.sync();
    expect(w.removed).toEqual(['chinook/v0@n1', 'gone/g1@n1']);
    expect(w.unlabelled).toEqual([['id-n1', ['myaas.has.v0']]]);
    expect(r.retired).toEqual([{ node: 'n1', template: 'chinook', version: 'v0' }, { node: 'n1', template: 'gone', version: 'g1' }]);
    expect(w.shipped).toEqual([]);
  });

  it('a failed shipment leaves that node unlabelled for that version and is reported; unreachable pools are named', async () => {
    const w = world({ nodes: [node('n1'), node('n2'), node('n9')], on: {}, versions: [version('v2', 'chinook', 'ready')], failShipTo: 'n2', reach: ['n1', 'n2'] });
    const r = await w.sync.sync();
    expect(w.labelled).toEqual([['id-n1', { 'myaas.pool.full': 'false', 'myaas.has.v2': 'true' }], ['id-n2', { 'myaas.pool.full': 'false' }]]);
    expect(r.failed).toEqual([{ node: 'n2', template: 'chinook', version: 'v2', error: 'disk full' }]);
    expect(r.unreachable).toEqual(['n9']);
  });
});

describe('cluster sync idle', () => {
  it('resolves only once the passes in flight (and those queued behind them) have ended', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let passes = 0;
    const sync = createClusterSync({
      nodes: { nodes: async () => (passes++, await gate, []), labelNode: async () => undefined, unlabelNode: async () => undefined, pruneVolumes: async () => [] },
      shipping: {
        reaches: () => true, versionsOn: async () => [], ship: async () => { throw new Error('no'); }, space: async () => ({ totalBytes: 1, freeBytes: 1 }), remove: async () => undefined,
        versionsHere: async () => [], fetch: async () => { throw new Error('no'); },
      },
      store: { listVersions: async () => [], versionsInUse: async () => new Set() },
      home: '/h', reserveBytes: () => 0, log: createMemoryLogger(),
    });
    void sync.sync();
    void sync.sync();
    let idle = false;
    const waiting = sync.idle().then(() => (idle = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(idle).toBe(false);
    release();
    await waiting;
    expect(passes).toBe(2);
  });
});

describe('placement by room', () => {
  it('marks a node whose pool is below the reserve full, and clears it once it has room again', async () => {
    const version = { id: 'v2', template: 'chinook', status: 'ready' } as TemplateVersion;
    const labelled: Array<[string, Record<string, string>]> = [];
    const free: Record<string, number> = { n1: 50, n2: 500 };
    const nodes: ClusterNode[] = [
      { id: 'id-n1', hostname: 'n1', ready: true, labels: { 'myaas.has.v2': 'true' } },
      { id: 'id-n2', hostname: 'n2', ready: true, labels: { 'myaas.has.v2': 'true', 'myaas.pool.full': 'true' } },
    ];
    const sync = createClusterSync({
      nodes: { nodes: async () => nodes, labelNode: async (id, l) => void labelled.push([id, l]), unlabelNode: async () => undefined, pruneVolumes: async () => [] },
      shipping: {
        reaches: () => true, versionsOn: async () => ['v2'], ship: async () => { throw new Error('nothing to ship'); },
        space: async (n) => ({ totalBytes: 1000, freeBytes: free[n]! }), remove: async () => undefined,
        versionsHere: async () => ['v2'], fetch: async () => { throw new Error('nothing to fetch'); },
      },
      store: { listVersions: async () => [version], versionsInUse: async () => new Set() },
      home: '/h',
      reserveBytes: (total) => total / 10,
      log: createMemoryLogger(),
    });
    await sync.sync();
    expect(labelled).toEqual([['id-n1', { 'myaas.pool.full': 'true' }], ['id-n2', { 'myaas.pool.full': 'false' }]]);
  });
});

describe('swarm configuration', () => {
  const env = {
    MYAAS_RUNTIME: 'swarm',
    MYAAS_SWARM_MANAGER: 'unix:///run/m.sock',
    MYAAS_SWARM_NODE_ENGINES: 'node-a=unix:///run/a.sock, node-b=tcp://10.0.0.2:2375',
    MYAAS_SWARM_NODE_POOLS: 'node-a=/pools/a,node-b=/pools/b',
  };
  it('reads the manager, the nodes\' engines and pools, and gives ports from a range by default', () => {
    const c = loadConfig(env as NodeJS.ProcessEnv);
    expect(c.runtime).toBe('swarm');
    expect(c.swarm).toEqual({
      manager: 'unix:///run/m.sock',
      engines: { 'node-a': 'unix:///run/a.sock', 'node-b': 'tcp://10.0.0.2:2375' },
      pools: { 'node-a': '/pools/a', 'node-b': '/pools/b' },
      agent: null,
      volumeDriver: 'myaas',
    });
    expect(c.portRange).toEqual({ from: 20000, to: 29999 });
    expect(loadConfig({ ...env, MYAAS_PORT_RANGE: '31000-31999' } as NodeJS.ProcessEnv).portRange).toEqual({ from: 31000, to: 31999 });
    expect(loadConfig({} as NodeJS.ProcessEnv).swarm).toBeNull();
  });
  it('says what is missing or not available on a Swarm', () => {
    expect(() => loadConfig({ MYAAS_RUNTIME: 'swarm' } as NodeJS.ProcessEnv)).toThrow(/needs MYAAS_SWARM_NODE_POOLS/);
    expect(() => loadConfig({ ...env, MYAAS_IDLE_SUSPEND: '15m' } as NodeJS.ProcessEnv)).toThrow(/MYAAS_IDLE_SUSPEND is not available with MYAAS_RUNTIME=swarm/);
    expect(() => loadConfig({ ...env, MYAAS_SWARM_NODE_POOLS: 'just-a-path' } as NodeJS.ProcessEnv)).toThrow(/is not <node hostname>=<value>/);
  });
  it('reaches a node\'s pool through its agent when given a URL, with the shared token', () => {
    const token = 'a'.repeat(64);
    const c = loadConfig({ ...env, MYAAS_SWARM_NODE_POOLS: 'node-a=/pools/a,node-b=https://node-b:5002', MYAAS_AGENT_TOKEN: token, MYAAS_AGENT_CA: '/etc/myaas/agents-ca.pem' } as NodeJS.ProcessEnv);
    expect(c.swarm?.pools).toEqual({ 'node-a': '/pools/a', 'node-b': 'https://node-b:5002' });
    expect(c.swarm?.agent).toEqual({ token, caFile: '/etc/myaas/agents-ca.pem' });
    const agents = { ...env, MYAAS_SWARM_NODE_POOLS: 'node-b=http://node-b:5002' };
    expect(() => loadConfig(agents as NodeJS.ProcessEnv)).toThrow(/names pool agents \(node-b\): set MYAAS_AGENT_TOKEN/);
    expect(() => loadConfig({ ...agents, MYAAS_AGENT_TOKEN: 'short' } as NodeJS.ProcessEnv)).toThrow(/at least 32 characters/);
    expect(() => loadConfig({ ...env, MYAAS_SWARM_NODE_POOLS: 'node-b=pools/b' } as NodeJS.ProcessEnv)).toThrow(/neither an absolute folder .* nor a pool agent's http\(s\):\/\/ URL/);
  });
});

describe('pool agent configuration (myaas volume-plugin)', () => {
  const token = 'b'.repeat(40);
  it('listens where MYAAS_AGENT_LISTEN says, with the token, and TLS only with both files', () => {
    expect(loadConfig({} as NodeJS.ProcessEnv).agentListen).toBeNull();
    expect(loadConfig({ MYAAS_AGENT_LISTEN: '0.0.0.0:5002', MYAAS_AGENT_TOKEN: token } as NodeJS.ProcessEnv).agentListen).toEqual({ host: '0.0.0.0', port: 5002, token, tls: null });
    expect(loadConfig({ MYAAS_AGENT_LISTEN: '[::]:5002', MYAAS_AGENT_TOKEN: token, MYAAS_AGENT_TLS_CERT: '/c.pem', MYAAS_AGENT_TLS_KEY: '/k.pem' } as NodeJS.ProcessEnv).agentListen).toEqual({
      host: '::', port: 5002, token, tls: { cert: '/c.pem', key: '/k.pem' },
    });
  });
  it('isolates the bridge MYAAS_NODE_ISOLATE names, none when unset or empty, and refuses a name that is no interface', () => {
    expect(loadConfig({ MYAAS_NODE_ISOLATE: 'docker0' } as NodeJS.ProcessEnv).nodeIsolate).toBe('docker0');
    expect(loadConfig({ MYAAS_NODE_ISOLATE: '' } as NodeJS.ProcessEnv).nodeIsolate).toBeNull();
    expect(loadConfig({} as NodeJS.ProcessEnv).nodeIsolate).toBeNull();
    expect(() => loadConfig({ MYAAS_NODE_ISOLATE: 'docker0 -j ACCEPT' } as NodeJS.ProcessEnv)).toThrow(/a network interface name such as docker0/);
  });
  it('says what is wrong', () => {
    expect(() => loadConfig({ MYAAS_AGENT_LISTEN: '0.0.0.0:5002' } as NodeJS.ProcessEnv)).toThrow(/MYAAS_AGENT_LISTEN is set: set MYAAS_AGENT_TOKEN/);
    expect(() => loadConfig({ MYAAS_AGENT_LISTEN: '5002', MYAAS_AGENT_TOKEN: token } as NodeJS.ProcessEnv)).toThrow(/must be host:port/);
    expect(() => loadConfig({ MYAAS_AGENT_LISTEN: 'h:99999', MYAAS_AGENT_TOKEN: token } as NodeJS.ProcessEnv)).toThrow(/must be host:port/);
    expect(() => loadConfig({ MYAAS_AGENT_LISTEN: 'h:5002', MYAAS_AGENT_TOKEN: token, MYAAS_AGENT_TLS_CERT: '/c.pem' } as NodeJS.ProcessEnv)).toThrow(/MYAAS_AGENT_TLS_CERT and MYAAS_AGENT_TLS_KEY go together/);
  });
});
