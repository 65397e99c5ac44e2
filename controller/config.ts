// The one reader of the environment (and of an optional config file). Everything else gets a Config.
// A leaf: imports nothing of the controller's.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

const bytes = (s: string): number => {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([kmgt]?)i?b?$/i.exec(s.trim());
  if (!m) throw new Error(`not a size: ${s} (use e.g. 512m, 1g)`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * mult);
};

/** "90", "90s", "30m", "2h", "1d" → seconds. */
export function parseDuration(s: string | number): number {
  if (typeof s === 'number') return s;
  const m = /^([0-9]+)\s*([smhd]?)$/.exec(s.trim());
  if (!m) throw new Error(`not a duration: ${JSON.stringify(s)} (use e.g. 3600, 30m, 2h, 1d)`);
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}

const list = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);

/** `owner/repo=tpl1+tpl2,other/repo=tpl3` → { 'owner/repo': ['tpl1','tpl2'], … } */
export function parseRepos(s: string | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [repo, templates] of repoEntries(s)) out[repo] = templates;
  return out;
}

/** `owner/repo@<repository id>=…` pins the repository's GitHub id in configuration. */
export function parseRepoPins(s: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [repo, , id] of repoEntries(s)) if (id !== null) out[repo] = id;
  return out;
}

/** `owner/repo=chinook@v20261121t083015-k3x9+billing`: templates may name the version its pull requests get. */
export function parseRepoVersionPins(s: string | undefined): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [repo, , , pins] of repoEntries(s)) if (Object.keys(pins).length) out[repo] = pins;
  return out;
}

// A template as MYAAS_GITHUB_REPOS names it: `chinook`, `chinook:schema`, either pinned to a version `@v…`.
const TEMPLATE_SPEC = /^([a-z0-9][a-z0-9_-]{0,47})(:schema)?(?:@(v[a-z0-9-]{1,40}))?$/;

function repoEntries(s: string | undefined): Array<[string, string[], number | null, Record<string, string>]> {
  return list(s).map((item) => {
    const m = /^([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+)(?:@([0-9]+))?=([a-z0-9_+:@-]+)$/.exec(item);
    const bad = () => new Error(`MYAAS_GITHUB_REPOS entry ${JSON.stringify(item)} is not owner/repo[@repository-id]=template[:schema][@version][+template…]`);
    if (!m) throw bad();
    const templates: string[] = [];
    const pins: Record<string, string> = {};
    for (const spec of m[3].split('+').filter(Boolean)) {
      const t = TEMPLATE_SPEC.exec(spec);
      if (!t) throw bad();
      // The schema-only variant is kept as `<template>.schema` (see domain/names.ts).
      const name = t[2] ? `${t[1]}.schema` : t[1];
      templates.push(name);
      if (t[3]) pins[name] = t[3];
    }
    return [m[1].toLowerCase(), templates, m[2] ? Number(m[2]) : null, pins];
  });
}

/** Where pull requests are shown: github.com for its API, the host of a GitHub Enterprise Server's `/api/v3`. */
export function githubWebUrl(apiUrl: string): string {
  const u = new URL(apiUrl);
  if (u.hostname === 'api.github.com') return 'https://github.com';
  if (u.hostname.startsWith('api.') && u.hostname.endsWith('.ghe.com')) return `${u.protocol}//${u.hostname.slice(4)}`;
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/api\/v3\/?$/, '')}`.replace(/\/+$/, '');
}

const schema = z.object({
  MYAAS_PORT: z.coerce.number().int().min(0).max(65535).default(5001),
  MYAAS_HOST: z.string().default('0.0.0.0'),
  MYAAS_PUBLIC_HOST: z.string().default(hostname()),
  MYAAS_DATA_DIR: z.string().default('/var/lib/myaas'),
  MYAAS_DUMPS_DIR: z.string().optional(),
  MYAAS_STORAGE: z.enum(['auto', 'btrfs', 'zfs', 'reflink', 'copy']).default('auto'),
  MYAAS_POSTGRES_IMAGE: z.string().default('postgres:16'),
  MYAAS_MARIADB_IMAGE: z.string().default('mariadb:11'),
  MYAAS_API_TOKENS: z.string().optional(),
  MYAAS_METRICS_TOKENS: z.string().optional(),
  MYAAS_PUBLIC_URL: z.string().url().optional(),
  MYAAS_RUN_TTL: z.string().default('3h'),
  MYAAS_MAX_TTL: z.string().default('1d'),
  MYAAS_MAX_INSTANCES: z.coerce.number().int().min(1).default(100),
  MYAAS_MAX_INSTANCES_PER_REPO: z.coerce.number().int().min(1).default(25),
  MYAAS_INSTANCE_TTL: z.string().default('0'),
  MYAAS_IDLE_SUSPEND: z.string().default('0'),
  MYAAS_MEMORY_LIMIT: z.string().default('1g'),
  MYAAS_CPUS: z.coerce.number().positive().default(1),
  MYAAS_IMPORT_SCHEDULE: z.string().optional(),
  MYAAS_PORT_RANGE: z.string().optional(),
  MYAAS_PUBLISH_IP: z.string().default('0.0.0.0'),
  MYAAS_NETWORK: z.enum(['bridge', 'host']).default('bridge'),
  MYAAS_PROBE_HOST: z.string().default('127.0.0.1'),
  MYAAS_RECONCILE_INTERVAL: z.string().default('30s'),
  MYAAS_READY_TIMEOUT: z.string().default('60s'),
  MYAAS_IMPORT_JOBS: z.coerce.number().int().min(1).default(2),
  MYAAS_IMPORT_TIMEOUT: z.string().default('2h'),
  MYAAS_SCHEMA_VARIANTS: z.enum(['true', 'false']).default('true'),
  MYAAS_RETRY_ATTEMPTS: z.coerce.number().int().min(0).max(50).default(5),
  MYAAS_PROVISION_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
  MYAAS_WARM_POOL: z.coerce.number().int().min(0).default(0),
  MYAAS_URL: z.string().url().default('http://localhost:5001'),
  MYAAS_TOKEN: z.string().optional(),
  MYAAS_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.string().optional(),
  MYAAS_LEADER_LOCK: z.enum(['true', 'false']).optional(),
  DOCKER_HOST: z.string().optional(),
  MYAAS_GITHUB_WEBHOOK_SECRET: z.string().optional(),
  MYAAS_GITHUB_TOKEN: z.string().optional(),
  MYAAS_GITHUB_APP_ID: z.string().optional(),
  MYAAS_GITHUB_PRIVATE_KEY: z.string().optional(),
  MYAAS_GITHUB_API_URL: z.string().url().default('https://api.github.com'),
  MYAAS_GITHUB_WEB_URL: z.string().url().optional(),
  MYAAS_GITHUB_REPOS: z.string().optional(),
  MYAAS_GITHUB_ALLOW_FORKS: z.enum(['true', 'false']).default('false'),
  MYAAS_GITHUB_RESET_ON_PUSH: z.enum(['true', 'false']).default('false'),
  MYAAS_GITHUB_COMMENT_PASSWORD: z.enum(['true', 'false']).default('false'),
  MYAAS_GITHUB_SWEEP_INTERVAL: z.string().default('5m'),
  MYAAS_GITHUB_PR_TTL: z.string().default('7d'),
  MYAAS_GITHUB_IDLE_TTL: z.string().default('0'),
  MYAAS_OIDC_ISSUER: z.string().url().default('https://token.actions.githubusercontent.com'),
  MYAAS_OIDC_AUDIENCE: z.string().optional(),
  MYAAS_OIDC_JWKS_URL: z.string().url().optional(),
  // --- what an instance can do to the host and to others (issue 9; docs/security-host.md) ---
  MYAAS_DISK_LIMIT: z.string().optional(),
  MYAAS_DISK_RESERVE: z.string().default('10%'),
  MYAAS_PIDS_LIMIT: z.coerce.number().int().min(16).default(512),
  MYAAS_IMPORT_MEMORY_LIMIT: z.string().default('2g'),
  MYAAS_IMPORT_CPUS: z.coerce.number().positive().default(2),
  MYAAS_DOCKER_NETWORK: z.string().default('myaas'),
  MYAAS_TLS_CERT: z.string().optional(),
  MYAAS_TLS_KEY: z.string().optional(),
  MYAAS_INSTANCE_TLS: z.enum(['true', 'false']).default('true'),
  MYAAS_INSTANCE_TLS_CERT: z.string().optional(),
  MYAAS_INSTANCE_TLS_KEY: z.string().optional(),
  // --- end of issue 9 keys ---
  // many hosts (docs/many-hosts.md): where `myaas volume-plugin` listens; the file name is the driver name
  MYAAS_VOLUME_SOCKET: z.string().default('/run/docker/plugins/myaas.sock'),
  // docker: instances on this host's Docker engine; swarm: instances as Swarm services on the nodes
  MYAAS_RUNTIME: z.enum(['docker', 'swarm']).default('docker'),
  MYAAS_SWARM_MANAGER: z.string().optional(),
  MYAAS_SWARM_NODE_ENGINES: z.string().optional(),
  MYAAS_SWARM_NODE_POOLS: z.string().optional(),
  // a node's pool agent (in `myaas volume-plugin`) and how controllers reach agents (docs/many-hosts.md)
  MYAAS_AGENT_LISTEN: z.string().optional(),
  MYAAS_AGENT_TOKEN: z.string().optional(),
  MYAAS_AGENT_TLS_CERT: z.string().optional(),
  MYAAS_AGENT_TLS_KEY: z.string().optional(),
  MYAAS_AGENT_CA: z.string().optional(),
  // a Swarm node's bridge its instance tasks join (docker0): `myaas volume-plugin` keeps it isolated
  MYAAS_NODE_ISOLATE: z.string().regex(/^([a-zA-Z0-9_.-]{1,15})?$/, 'a network interface name such as docker0').optional(),
  MYAAS_VOLUME_DRIVER: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'a volume driver name such as myaas').default('myaas'),
});

/** `myaas-node1=unix:///run/x.sock,myaas-node2=tcp://10.0.0.2:2375` → { hostname: value } */
export function parseNodeMap(s: string | undefined, key: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list(s)) {
    const m = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,62})=(.+)$/.exec(item);
    if (!m) throw new Error(`${key} entry ${JSON.stringify(item)} is not <node hostname>=<value>`);
    out[m[1]] = m[2];
  }
  return out;
}

/** Many hosts: the Swarm the instances run on, and how the controller reaches each node. */
function swarmConfig(e: z.infer<typeof schema>) {
  if (e.MYAAS_RUNTIME !== 'swarm') return null;
  if (parseDuration(e.MYAAS_IDLE_SUSPEND) > 0) {
    throw new Error('MYAAS_IDLE_SUSPEND is not available with MYAAS_RUNTIME=swarm yet (a suspended instance\'s port would have to be held on its node): leave it unset');
  }
  if (e.MYAAS_NETWORK === 'host') throw new Error('MYAAS_NETWORK=host does not apply to MYAAS_RUNTIME=swarm: an instance publishes its port on its node');
  const pools = parseNodeMap(e.MYAAS_SWARM_NODE_POOLS, 'MYAAS_SWARM_NODE_POOLS');
  if (!Object.keys(pools).length) {
    throw new Error('MYAAS_RUNTIME=swarm needs MYAAS_SWARM_NODE_POOLS (node hostname=its pool as this host mounts it, comma-separated): templates are shipped there');
  }
  const agents = Object.entries(pools).filter(([, where]) => /^https?:\/\//.test(where));
  for (const [node, where] of Object.entries(pools)) {
    if (!/^https?:\/\//.test(where) && !where.startsWith('/')) throw new Error(`MYAAS_SWARM_NODE_POOLS: node ${node}'s pool ${JSON.stringify(where)} is neither an absolute folder this host mounts nor a pool agent's http(s):// URL`);
  }
  if (agents.length) agentToken(e, `MYAAS_SWARM_NODE_POOLS names pool agents (${agents.map(([n]) => n).join(', ')})`);
  return {
    /** a manager's Docker endpoint (DOCKER_HOST form); null: DOCKER_HOST or the local socket */
    manager: e.MYAAS_SWARM_MANAGER ?? e.DOCKER_HOST ?? null,
    /** node hostname → its own Docker endpoint (exec, memory, removing its volumes) */
    engines: parseNodeMap(e.MYAAS_SWARM_NODE_ENGINES, 'MYAAS_SWARM_NODE_ENGINES'),
    /** node hostname → its pool (MYAAS_DATA_DIR of its volume plugin) as mounted on this host, or its pool agent's URL */
    pools,
    /** how pool agents are reached: the shared token and the CA file their certificates are checked with */
    agent: agents.length ? { token: e.MYAAS_AGENT_TOKEN!, caFile: e.MYAAS_AGENT_CA ?? null } : null,
    volumeDriver: e.MYAAS_VOLUME_DRIVER,
  };
}

/** The pool agents' shared secret: long enough to sign with. */
function agentToken(e: z.infer<typeof schema>, why: string): string {
  const t = e.MYAAS_AGENT_TOKEN;
  if (!t) throw new Error(`${why}: set MYAAS_AGENT_TOKEN, the same secret on the controller and every node's agent (e.g. openssl rand -hex 32)`);
  if (t.length < 32) throw new Error('MYAAS_AGENT_TOKEN must be at least 32 characters (e.g. openssl rand -hex 32)');
  return t;
}

/** A node's pool agent (`myaas volume-plugin` with MYAAS_AGENT_LISTEN=host:port); null: none. */
function agentListen(e: z.infer<typeof schema>) {
  if (!e.MYAAS_AGENT_LISTEN) return null;
  const m = /^(.+):([0-9]{1,5})$/.exec(e.MYAAS_AGENT_LISTEN);
  if (!m || Number(m[2]) > 65535) throw new Error(`MYAAS_AGENT_LISTEN must be host:port (e.g. 0.0.0.0:5002), got ${e.MYAAS_AGENT_LISTEN}`);
  return {
    host: m[1].replace(/^\[(.*)\]$/, '$1'),
    port: Number(m[2]),
    token: agentToken(e, 'MYAAS_AGENT_LISTEN is set'),
    tls: pair(e.MYAAS_AGENT_TLS_CERT, e.MYAAS_AGENT_TLS_KEY, 'MYAAS_AGENT_TLS'),
  };
}

/** `10%` (of the pool) or a size such as `2g`. */
function parseReserve(s: string): { percent: number } | { bytes: number } {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*%$/.exec(s.trim());
  if (!m) return { bytes: bytes(s) };
  const percent = Number(m[1]);
  if (percent >= 100) throw new Error(`MYAAS_DISK_RESERVE must be below 100%, got ${s}`);
  return { percent };
}

/** Both files or neither: half a TLS configuration is a mistake worth stopping for. */
function pair(cert: string | undefined, key: string | undefined, name: string): { cert: string; key: string } | null {
  if (!cert && !key) return null;
  if (!cert || !key) throw new Error(`${name}_CERT and ${name}_KEY go together: set both (PEM files) or neither`);
  return { cert, key };
}

export type Config = ReturnType<typeof toConfig>;

function toConfig(e: z.infer<typeof schema>) {
  let range = e.MYAAS_PORT_RANGE ? /^([0-9]+)-([0-9]+)$/.exec(e.MYAAS_PORT_RANGE) : null;
  if (e.MYAAS_PORT_RANGE && (!range || Number(range[1]) > Number(range[2]))) {
    throw new Error(`MYAAS_PORT_RANGE must be like 20000-20999, got ${e.MYAAS_PORT_RANGE}`);
  }
  if (e.MYAAS_LEADER_LOCK === 'true' && !e.DATABASE_URL) {
    throw new Error('MYAAS_LEADER_LOCK=true needs DATABASE_URL (a PostgreSQL state DB that the controllers share); without it one controller runs per data dir');
  }
  const swarm = swarmConfig(e);
  // Ports are the controller's to give on a cluster: two nodes' own choices could coincide.
  if (swarm && !range) range = /^([0-9]+)-([0-9]+)$/.exec('20000-29999');
  const publicUrl = (e.MYAAS_PUBLIC_URL ?? `http://${e.MYAAS_PUBLIC_HOST}:${e.MYAAS_PORT}`).replace(/\/+$/, '');
  return {
    port: e.MYAAS_PORT,
    /** where clients reach the controller; the default OIDC audience */
    publicUrl,
    listenHost: e.MYAAS_HOST,
    publicHost: e.MYAAS_PUBLIC_HOST,
    dataDir: e.MYAAS_DATA_DIR,
    dumpsDir: e.MYAAS_DUMPS_DIR ?? join(e.MYAAS_DATA_DIR, 'dumps'),
    storage: e.MYAAS_STORAGE,
    images: { postgres: e.MYAAS_POSTGRES_IMAGE, mariadb: e.MYAAS_MARIADB_IMAGE },
    apiTokens: list(e.MYAAS_API_TOKENS),
    /** tokens that may read /metrics and nothing else (Prometheus' bearer token) */
    metricsTokens: list(e.MYAAS_METRICS_TOKENS),
    /** lifetime of a workflow run's instance (always expires, even without its post step) */
    runTtlSeconds: parseDuration(e.MYAAS_RUN_TTL),
    /** longest lifetime a repository's token may ask for; only admins may ask for none (ttl 0) */
    maxTtlSeconds: parseDuration(e.MYAAS_MAX_TTL),
    /** instances at once on this host, and per repository; past them, instances wait (status queued) */
    maxInstances: e.MYAAS_MAX_INSTANCES,
    maxInstancesPerRepo: e.MYAAS_MAX_INSTANCES_PER_REPO,
    instanceTtlSeconds: parseDuration(e.MYAAS_INSTANCE_TTL),
    /** an instance without a client connection this long is suspended (its server stopped); 0: never */
    idleSuspendSeconds: parseDuration(e.MYAAS_IDLE_SUSPEND),
    memoryBytes: bytes(e.MYAAS_MEMORY_LIMIT),
    cpus: e.MYAAS_CPUS,
    importSchedule: e.MYAAS_IMPORT_SCHEDULE ?? null,
    portRange: range ? { from: Number(range[1]), to: Number(range[2]) } : null,
    publishIp: e.MYAAS_PUBLISH_IP,
    network: e.MYAAS_NETWORK,
    probeHost: e.MYAAS_PROBE_HOST,
    reconcileIntervalMs: parseDuration(e.MYAAS_RECONCILE_INTERVAL) * 1000,
    readyTimeoutMs: parseDuration(e.MYAAS_READY_TIMEOUT) * 1000,
    importJobs: e.MYAAS_IMPORT_JOBS,
    importTimeoutMs: parseDuration(e.MYAAS_IMPORT_TIMEOUT) * 1000,
    /** every import also cuts `<template>:schema`: the same schema, no rows */
    schemaVariants: e.MYAAS_SCHEMA_VARIANTS === 'true',
    /** automatic attempts after a failed provisioning or a crash, with growing pauses */
    retryAttempts: e.MYAAS_RETRY_ATTEMPTS,
    /** instances brought up (cloned, started, probed) at once; the rest wait their turn */
    provisionConcurrency: e.MYAAS_PROVISION_CONCURRENCY,
    warmPool: e.MYAAS_WARM_POOL,
    logLevel: e.MYAAS_LOG_LEVEL,
    /** for CLI commands that talk to a running controller */
    cli: { url: e.MYAAS_URL, token: e.MYAAS_TOKEN ?? null },
    databaseUrl: e.DATABASE_URL ?? null,
    /** controllers sharing DATABASE_URL elect one active one with an advisory lock; the others stand by */
    leaderLock: !!e.DATABASE_URL && e.MYAAS_LEADER_LOCK !== 'false',
    dockerHost: e.DOCKER_HOST ?? null,
    /** the runtime instances run on; imports always run on this host's Docker engine (DOCKER_HOST) */
    runtime: e.MYAAS_RUNTIME,
    swarm,
    github: {
      webhookSecret: e.MYAAS_GITHUB_WEBHOOK_SECRET ?? null,
      token: e.MYAAS_GITHUB_TOKEN ?? null,
      appId: e.MYAAS_GITHUB_APP_ID ?? null,
      privateKey: e.MYAAS_GITHUB_PRIVATE_KEY ?? null,
      apiUrl: e.MYAAS_GITHUB_API_URL.replace(/\/+$/, ''),
      webUrl: (e.MYAAS_GITHUB_WEB_URL ?? githubWebUrl(e.MYAAS_GITHUB_API_URL)).replace(/\/+$/, ''),
      repos: parseRepos(e.MYAAS_GITHUB_REPOS),
      repoPins: parseRepoPins(e.MYAAS_GITHUB_REPOS),
      /** per repository, templates whose pull-request instances are pinned to a version (`template@version`) */
      versionPins: parseRepoVersionPins(e.MYAAS_GITHUB_REPOS),
      /** a pull request's instances expire this long after the pull request was last seen (a lost "closed") */
      prTtlSeconds: parseDuration(e.MYAAS_GITHUB_PR_TTL),
      /** a pull request's instances expire this long after its last push (0: off); `/myaas protect` pins them */
      idleTtlSeconds: parseDuration(e.MYAAS_GITHUB_IDLE_TTL),
      allowForks: e.MYAAS_GITHUB_ALLOW_FORKS === 'true',
      resetOnPush: e.MYAAS_GITHUB_RESET_ON_PUSH === 'true',
      commentPassword: e.MYAAS_GITHUB_COMMENT_PASSWORD === 'true',
      sweepIntervalMs: parseDuration(e.MYAAS_GITHUB_SWEEP_INTERVAL) * 1000,
    },
    volumeSocket: e.MYAAS_VOLUME_SOCKET,
    /** the pool agent `myaas volume-plugin` serves beside the plugin; null: none */
    agentListen: agentListen(e),
    /** the bridge whose containers `myaas volume-plugin` keeps from opening connections; null: none */
    nodeIsolate: e.MYAAS_NODE_ISOLATE || null,
    oidc: {
      issuer: e.MYAAS_OIDC_ISSUER.replace(/\/+$/, ''),
      // Specific to this deployment by default, so a token minted for another service is not accepted here.
      audience: e.MYAAS_OIDC_AUDIENCE ?? publicUrl,
      jwksUrl: e.MYAAS_OIDC_JWKS_URL ?? null,
    },
    safety: {
      /** bytes one clone may write; 0: none */
      diskLimitBytes: bytes(e.MYAAS_DISK_LIMIT ?? '10g'),
      /** set by the operator (then a pool that cannot enforce it stops the controller) rather than the default */
      diskLimitExplicit: e.MYAAS_DISK_LIMIT !== undefined,
      diskReserve: parseReserve(e.MYAAS_DISK_RESERVE),
      pidsLimit: e.MYAAS_PIDS_LIMIT,
      importMemoryBytes: bytes(e.MYAAS_IMPORT_MEMORY_LIMIT),
      importCpus: e.MYAAS_IMPORT_CPUS,
      dockerNetwork: e.MYAAS_DOCKER_NETWORK,
      /** the controller's own HTTPS */
      tls: pair(e.MYAAS_TLS_CERT, e.MYAAS_TLS_KEY, 'MYAAS_TLS'),
      /** TLS offered by instances: a CA-issued certificate, or one made per host (null) */
      instanceTls: e.MYAAS_INSTANCE_TLS === 'true' ? { files: pair(e.MYAAS_INSTANCE_TLS_CERT, e.MYAAS_INSTANCE_TLS_KEY, 'MYAAS_INSTANCE_TLS') } : null,
    },
  };
}

/**
 * Reads configuration from `env`, after the keys of the JSON file named by MYAAS_CONFIG (if any);
 * the environment wins. Throws one error listing every invalid key.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  let file: Record<string, string> = {};
  if (env.MYAAS_CONFIG) {
    try {
      file = JSON.parse(readFileSync(env.MYAAS_CONFIG, 'utf8'));
    } catch (e) {
      throw new Error(`cannot read MYAAS_CONFIG ${env.MYAAS_CONFIG}: ${(e as Error).message}`);
    }
  }
  const merged: Record<string, string | undefined> = { ...file };
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') merged[k] = v;
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  return toConfig(parsed.data);
}
