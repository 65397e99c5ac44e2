// `myaas import`: through the controller that holds the data dir when one runs (found by MYAAS_URL or
// by the data dir's lock), else in this process, which then holds the data dir itself meanwhile.
import { createCliClient, CliError, type CliClient } from './cli-client.js';
import type { Config } from './config.js';
import { createDumpSource } from './host/dumps.js';
import { describeHolder, readLockHolder } from './host/lock.js';
import { createLogger } from './log.js';
import { buildController } from './main.js';

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const mb = (n: number | null) => (n === null ? '-' : `${(n / 1024 / 1024).toFixed(1)} MB`);

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
  const c = await buildController(config, log, { command: 'import' });
  try {
    const targets = names.length ? names : (await createDumpSource(config.dumpsDir).scan()).dumps.map((d) => d.template);
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

/** The API of the controller that runs on this data dir, if one answers; an error if one holds it but does not answer. */
async function runningController(config: Config, client: CliClient): Promise<CliClient | null> {
  if (await client.reachable()) return client;
  const holder = await readLockHolder(config.dataDir);
  if (!holder) return null;
  if (holder.url) {
    const there = createCliClient(holder.url, config.cli.token ?? undefined);
    if (await there.reachable()) return there;
  }
  throw new CliError(
    `the data dir ${config.dataDir} is in use by ${describeHolder(holder)}, and its API does not answer` +
      `${holder.url ? ` at ${holder.url}` : ''}: set MYAAS_URL to where it listens, or stop it to import here`,
  );
}

export async function importCommand(config: Config, client: CliClient, names: string[], cancel: boolean): Promise<void> {
  const remote = await runningController(config, client);
  if (cancel) {
    if (!remote) throw new CliError(`no controller runs on ${config.dataDir}, so no import is running there`);
    if (!names.length) throw new CliError('import --cancel needs the template(s) whose import to stop');
    for (const name of names) {
      const { version } = await remote.cancelImport(name);
      out(`${name}: import ${version.id} cancelled`);
    }
    return;
  }
  return remote ? importRemote(remote, names) : importLocal(config, names);
}
