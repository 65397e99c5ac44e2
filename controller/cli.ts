#!/usr/bin/env node
// The `myaas` command. `serve` and `import` run the controller's code here; the others talk to a
// controller at MYAAS_URL with MYAAS_TOKEN.
import { parseArgs } from 'node:util';
import { createCliClient, CliError, type CliClient } from './cli-client.js';
import { loadConfig, type Config } from './config.js';
import { messageOf } from './domain/errors.js';
import type { InstanceDto, TemplateDto } from './http/contract.js';
import { createLogger } from './log.js';
import { buildController, serveController } from './main.js';

const USAGE = `usage: myaas <command> [options]

  serve                         run the controller (configuration: MYAAS_* environment variables)
  import [template…]            import dumps into new template versions (all templates when none named)
  templates                     list templates and their versions
  ls                            list instances
  create <template> [--name N] [--ttl 2h] [--wait [seconds]]
                                get or create an instance; prints its id and, once ready, its URL
  url <id>                      print an instance's connection URL
  reset <id> [--wait [s]]       back to the latest template version, same port and credentials
  rm <id> [--wait [s]]          destroy an instance
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

async function importRemote(client: CliClient, names: string[]) {
  const targets = names.length ? names : (await client.templates()).map((t) => t.name);
  let failed = 0;
  for (const name of targets) {
    const t0 = Date.now();
    const { version } = await client.importTemplate(name);
    out(`${name}: importing as ${version.id} on the controller`);
    let last = '';
    for (;;) {
      const v = (await client.templates()).find((t) => t.name === name)?.versions.find((x) => x.id === version.id);
      if (v?.phase && v.phase !== last) out(`  [${secs(Date.now() - t0)}] ${(last = v.phase)}`);
      if (!v || v.status === 'ready' || v.status === 'failed') {
        if (v?.status === 'ready') out(`${name}: ready in ${secs(Date.now() - t0)} (${mb(v.sizeBytes)}), now latest`);
        else (failed++, err(`${name}: import failed after ${secs(Date.now() - t0)}: ${v?.error ?? 'version vanished'}`));
        break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  if (failed) process.exitCode = 1;
}

async function importLocal(config: Config, names: string[]) {
  // The CLI prints its own progress; the controller's info lines would repeat it.
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, process.stderr);
  const c = await buildController(config, log);
  try {
    const targets = names.length ? names : (await (await import('./jobs/dumps.js')).scanDumps(config.dumpsDir)).dumps.map((d) => d.template);
    if (!targets.length) throw new CliError(`no dumps found in ${config.dumpsDir}: put them at <engine>/<template>.sql`);
    let failed = 0;
    for (const name of targets) {
      const t0 = Date.now();
      const off = c.importer.onProgress((_v, phase, ms) => out(`  [${secs(ms)}] ${phase}`));
      out(`${name}: importing`);
      const { done } = await c.importer.start(name);
      const v = await done;
      off();
      if (v.status === 'ready') out(`${name}: version ${v.id} ready in ${secs(Date.now() - t0)} (${mb(v.sizeBytes)}), now latest`);
      else (failed++, err(`${name}: import failed after ${secs(Date.now() - t0)}: ${v.error}`));
    }
    await c.sweep();
    if (failed) process.exitCode = 1;
  } finally {
    await c.close();
  }
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

async function main(argv: string[]) {
  const [cmd, ...raw] = argv;
  const rest = normaliseWait(raw);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { name: { type: 'string' }, ttl: { type: 'string' }, wait: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
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
      const { createCommandRunner, resolveStorage } = await import('./storage/index.js');
      const { createVolumePlugin } = await import('./volume/index.js');
      const runner = createCommandRunner();
      const storage = await resolveStorage(config.storage, config.dataDir, runner);
      const plugin = createVolumePlugin({ storage, runner, dataDir: config.dataDir, socketPath: config.volumeSocket, log: createLogger(config.logLevel) });
      await plugin.start();
      await new Promise((resolve) => (process.once('SIGTERM', resolve), process.once('SIGINT', resolve)));
      return plugin.close();
    }
    case 'import':
      return (await client.reachable()) ? importRemote(client, positionals) : importLocal(config, positionals);
    case 'templates':
      return printTemplates(await client.templates());
    case 'ls':
      return printInstances(await client.list());
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
    default:
      throw new CliError(`unknown command ${JSON.stringify(cmd)}\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((e) => {
  err(`myaas: ${messageOf(e)}`);
  process.exit(e instanceof CliError ? 2 : 1);
});
