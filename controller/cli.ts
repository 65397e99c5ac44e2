#!/usr/bin/env node
// The `myaas` command. `serve` and `import` run the controller's code here; the others talk to a
// controller at MYAAS_URL with MYAAS_TOKEN.
import { parseArgs } from 'node:util';
import { createCliClient, CliError, type CliClient } from './cli-client.js';
import { loadConfig, type Config } from './config.js';
import { isAppError, messageOf } from './domain/errors.js';
import type { InstanceDto, PoolDto, TemplateDto } from './contract.js';
import { createManifestConverter } from './github/app-manifest.js';
import { GITHUB_APP_USAGE, parseGitHubAppArgs, runGitHubAppCreate } from './github/app-manifest-cli.js';
import { createAppConfigFile } from './github/app-manifest-store.js';
import { importCommand } from './cli-import.js';
import { createLogger } from './log.js';
import { serveController } from './main.js';

const USAGE = `usage: myaas <command> [options]

  serve                         run the controller (configuration: MYAAS_* environment variables)
  import [template…]            import dumps into new template versions (all templates when none named);
                                through the running controller when one holds the data dir
  import --cancel <template…>   stop a running import (it leaves nothing behind; latest stays)
  templates                     list templates and their versions
  ls [--template T] [--owner O] [--status S]
                                list instances (filters take comma lists, e.g. --status ready,failed)
  create <template> [--name N] [--ttl 2h] [--wait [seconds]]
                                get or create an instance; prints its id and, once ready, its URL
  url <id>                      print an instance's connection URL
  reset <id> [--wait [s]]       back to the latest template version, same port and credentials
  rm <id> [--wait [s]]          destroy an instance
  diff <id>                     the instance's schema against its template's (Markdown; destructive changes flagged)
  github-app create --url URL   register a GitHub App for this controller (myaas github-app --help)
  volume-plugin                 serve Docker's volume plugin protocol on MYAAS_VOLUME_SOCKET: volumes
                                that are clones of template versions on MYAAS_DATA_DIR (docs/many-hosts.md)

Commands other than serve and import talk to MYAAS_URL (default http://localhost:5001) with MYAAS_TOKEN.`;

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}
const mb = (n: number | null) => (n === null ? '-' : `${(n / 1024 / 1024).toFixed(1)} MB`);

function printTemplates(ts: TemplateDto[]) {
  if (!ts.length) return out('no templates: put dumps in <dumps>/<postgres|mariadb>/<template>.sql and run `myaas import`');
  const rows = [['TEMPLATE', 'ENGINE', 'VERSION', 'STATUS', 'SIZE', 'CREATED', 'NOTE']];
  for (const t of ts) {
    if (!t.versions.length) rows.push([t.name, t.engine, '-', 'not imported', '-', '-', '']);
    for (const v of t.versions) rows.push([t.name, t.engine, v.id + (v.id === t.latest ? ' (latest)' : ''), v.status, mb(v.sizeBytes), v.createdAt, v.error ?? v.phase ?? '']);
  }
  out(table(rows));
}

const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;

/** One line about the storage pool under the templates table. */
function poolLine(p: PoolDto): string {
  const low = p.freeBytes < p.reserveBytes ? ' — below the reserve: new instances and imports are refused' : '';
  const limit = p.limitBytes > 0 ? `${gib(p.limitBytes)} per instance (${p.quota})` : `no per-instance limit${p.quotaNote ? ` (${p.quotaNote})` : ''}`;
  return `pool: ${gib(p.freeBytes)} free of ${gib(p.totalBytes)}, reserve ${gib(p.reserveBytes)}${low}; ${limit}`;
}

function printInstances(is: InstanceDto[]) {
  if (!is.length) return out('no instances');
  const rows = [['ID', 'NAME', 'TEMPLATE', 'STATUS', 'OWNER', 'EXPIRES']];
  for (const i of is) rows.push([i.id, i.name, i.template, i.status, i.owner, i.expiresAt ?? '-']);
  out(table(rows));
}

function waitArg(v: string | boolean | undefined, dflt: number): number {
  if (v === undefined || v === false) return 0;
  if (v === true || v === '' || v === 'default') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new CliError(`--wait takes seconds, got ${v}`);
  return n;
}

/** `--wait` may stand alone (default seconds) or take a number: `--wait 30`, `--wait=30`. */
function normaliseWait(args: string[]): string[] {
  const outArgs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--wait') {
      const next = args[i + 1];
      if (next !== undefined && /^[0-9]+(\.[0-9]+)?$/.test(next)) outArgs.push(`--wait=${args[++i]}`);
      else outArgs.push('--wait=default');
    } else outArgs.push(args[i]);
  }
  return outArgs;
}

/** `myaas github-app create …`: GitHub's manifest flow; writes the App's credentials for MYAAS_CONFIG. */
async function githubApp(argv: string[]) {
  const config = loadConfig();
  let args;
  try {
    args = parseGitHubAppArgs(argv, config);
  } catch (e) {
    throw isAppError(e) ? new CliError(`${e.message}\n\n${GITHUB_APP_USAGE}`) : e;
  }
  if (!args) return out(GITHUB_APP_USAGE);
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, process.stderr);
  const store = createAppConfigFile({ path: args.out, apiUrl: args.apiUrl, force: args.force, ownDir: args.defaultOut });
  await runGitHubAppCreate(args, { converter: createManifestConverter({ apiUrl: args.apiUrl }, log), store, log, print: out });
}

async function main(argv: string[]) {
  const [cmd, ...raw] = argv;
  if (cmd === 'github-app') return githubApp(raw);
  const rest = normaliseWait(raw);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      name: { type: 'string' }, ttl: { type: 'string' }, wait: { type: 'string' }, cancel: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      template: { type: 'string' }, owner: { type: 'string' }, status: { type: 'string' },
    },
    strict: true,
  }).valueOf() as { values: Record<string, string | boolean | undefined>; positionals: string[] };
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h' || values.help) return out(USAGE);
  const config = loadConfig();
  const client = createCliClient(config.cli.url, config.cli.token ?? undefined);
  const need = (n: number, what: string) => {
    if (positionals.length < n) throw new CliError(`${cmd} needs ${what}\n\n${USAGE}`);
  };
  switch (cmd) {
    case 'serve': {
      await serveController(config, createLogger(config.logLevel));
      return;
    }
    case 'volume-plugin': {
      // A node's volume driver (docs/many-hosts.md); runs until SIGTERM or SIGINT.
      const { resolveStorage } = await import('./storage/index.js');
      const { createCommandRunner } = await import('./host/command.js');
      const { createVolumePlugin } = await import('./volume/index.js');
      // A small process (no state DB): starting programs from it directly is cheap.
      const runner = createCommandRunner({ direct: true });
      const storage = await resolveStorage(config.storage, config.dataDir, runner);
      const a = config.agentListen;
      let agent = null;
      if (a) {
        const { createLocalPool } = await import('./storage/btrfs-ship.js');
        const { readFile } = await import('node:fs/promises');
        const tls = a.tls ? { cert: await readFile(a.tls.cert, 'utf8'), key: await readFile(a.tls.key, 'utf8') } : null;
        const pool = createLocalPool('this node', config.dataDir, runner, { removeVersion: (path) => storage.remove(path) });
        agent = { pool, host: a.host, port: a.port, token: a.token, tls };
      }
      const bridge = config.nodeIsolate;
      let isolation = null;
      if (bridge) {
        const { createIptablesFirewall } = await import('./host/firewall.js');
        const firewall = createIptablesFirewall(runner);
        const apply = () => firewall.isolate(bridge, { sameBridge: true, hint: 'myaas volume-plugin needs root and iptables on the node' });
        isolation = { bridge, apply };
      }
      const plugin = createVolumePlugin({ storage, runner, dataDir: config.dataDir, socketPath: config.volumeSocket, log: createLogger(config.logLevel), agent, isolation });
      await plugin.start();
      await new Promise((resolve) => (process.once('SIGTERM', resolve), process.once('SIGINT', resolve)));
      return plugin.close();
    }
    case 'import':
      return importCommand(config, client, positionals, values.cancel === true);
    case 'templates': {
      printTemplates(await client.templates());
      const disk = (await client.health().catch(() => null))?.disk;
      if (disk) out(poolLine(disk));
      return;
    }
    case 'ls':
      return printInstances(await client.list({ template: values.template as string | undefined, owner: values.owner as string | undefined, status: values.status as string | undefined }));
    case 'create': {
      need(1, 'a template');
      const t0 = Date.now();
      const i = await client.create({ template: positionals[0], name: values.name as string | undefined, ttl: values.ttl as string | undefined }, waitArg(values.wait, 120));
      err(`${i.created ? 'created' : 'existing'} instance ${i.id} (${i.name}): ${i.status}${i.status === 'ready' ? ` in ${secs(Date.now() - t0)}` : ''}${i.error ? `: ${i.error}` : ''}`);
      if (i.connection) out(i.connection.url);
      if (i.status === 'failed') process.exitCode = 1;
      return;
    }
    case 'url': {
      need(1, 'an instance id');
      const i = await client.get(positionals[0]);
      if (!i.connection) throw new CliError(`instance ${i.id} is ${i.status}${i.error ? `: ${i.error}` : ''}; no URL yet`);
      return out(i.connection.url);
    }
    case 'reset': {
      need(1, 'an instance id');
      const t0 = Date.now();
      const i = await client.reset(positionals[0], waitArg(values.wait, 120));
      return err(`instance ${i.id}: ${i.status}${i.status === 'ready' ? ` in ${secs(Date.now() - t0)}` : ''}${i.error ? `: ${i.error}` : ''}`);
    }
    case 'rm': {
      need(1, 'an instance id');
      const i = await client.remove(positionals[0], waitArg(values.wait, 60));
      return err(`instance ${i.id}: ${i.status}`);
    }
    case 'diff': {
      need(1, 'an instance id');
      const d = await client.schemaDiff(positionals[0]);
      err(`instance ${d.instance}: ${d.summary}`);
      return out(d.markdown);
    }
    default:
      throw new CliError(`unknown command ${JSON.stringify(cmd)}\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((e) => {
  err(`myaas: ${messageOf(e)}`);
  process.exit(e instanceof CliError ? 2 : 1);
});
