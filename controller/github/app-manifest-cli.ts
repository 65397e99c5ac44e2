// `myaas github-app create`: its arguments, and the conversation around the manifest flow. The key
// and the webhook secret go to the file only; nothing here prints them.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { AppError, messageOf } from '../domain/errors.js';
import { apiUrlFor, defaultAppName, GITHUB_COM, installUrl, normaliseBaseUrl, type CreatedApp } from './app-manifest.js';
import { startManifestFlow, type ManifestFlowOptions } from './app-manifest-flow.js';
import type { AppConfigFile } from './app-manifest-store.js';

export const GITHUB_APP_USAGE = `usage: myaas github-app create --url https://my-controller [options]

Registers a GitHub App for the controller with GitHub's manifest flow and stores its id, private key
and webhook secret in a JSON configuration file (mode 0600) for MYAAS_CONFIG.

  --url URL          the controller's public URL; webhooks go to URL/api/v1/webhooks/github
  --org ORG          register the App under an organisation (default: your own account)
  --github-url URL   GitHub or GitHub Enterprise Server (default https://github.com); its API is
                     MYAAS_GITHUB_API_URL, or <github-url>/api/v3 for a server
  --name NAME        the App's name (default myaas-<controller host>; changeable on GitHub's page)
  --out FILE         where to write the configuration (default <data dir>/secrets/github-app.json)
  --force            replace FILE if it exists
  --port N           local port of the page to open (default any free one; fix it to forward it over SSH)`;

export interface GitHubAppArgs {
  controllerUrl: string;
  githubUrl: string;
  apiUrl: string;
  org: string | null;
  name: string;
  out: string;
  /** true when `out` is the default location, whose folder is ours to make owner-only */
  defaultOut: boolean;
  force: boolean;
  port: number;
}

/** Parses `create …`; null when help was asked for. Throws AppError('bad_request') on bad input. */
export function parseGitHubAppArgs(argv: string[], config: Pick<Config, 'dataDir' | 'github'>): GitHubAppArgs | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' }, org: { type: 'string' }, 'github-url': { type: 'string' }, name: { type: 'string' },
        out: { type: 'string' }, force: { type: 'boolean' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new AppError('bad_request', messageOf(e));
  }
  const { values: v, positionals } = parsed;
  if (v.help || positionals[0] === 'help') return null;
  if (positionals.length !== 1 || positionals[0] !== 'create') throw new AppError('bad_request', `github-app takes one subcommand, create; got ${JSON.stringify(positionals.join(' '))}`);
  if (!v.url) throw new AppError('bad_request', 'github-app create needs --url, the controller\'s public URL');
  const controllerUrl = normaliseBaseUrl(v.url, '--url');
  const githubUrl = normaliseBaseUrl(v['github-url'] ?? GITHUB_COM, '--github-url');
  if (v.org !== undefined && !/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(v.org)) throw new AppError('bad_request', `--org ${JSON.stringify(v.org)} is not a GitHub account name`);
  const name = v.name ?? defaultAppName(controllerUrl);
  if (!name.trim() || name.length > 34) throw new AppError('bad_request', '--name must be 1 to 34 characters (GitHub\'s limit)');
  const port = v.port === undefined ? 0 : Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new AppError('bad_request', `--port must be a port number, got ${v.port}`);
  return {
    controllerUrl, githubUrl, name, port,
    apiUrl: apiUrlFor(githubUrl, config.github.apiUrl),
    org: v.org ?? null,
    out: v.out ?? join(config.dataDir, 'secrets', 'github-app.json'),
    defaultOut: v.out === undefined,
    force: Boolean(v.force),
  };
}

export interface GitHubAppDeps extends Pick<ManifestFlowOptions, 'converter' | 'log' | 'timeoutMs' | 'host'> {
  store: AppConfigFile;
  /** one line to the person at the terminal */
  print(line: string): void;
  /** told the page's URL as soon as it is served (tests play the browser with it) */
  onPage?(url: string): void;
}

/** Runs the flow to the end: the App, its credentials stored. */
export async function runGitHubAppCreate(a: GitHubAppArgs, deps: GitHubAppDeps): Promise<CreatedApp> {
  const { warnings } = await deps.store.check();
  warnings.forEach((w) => deps.print(`note: ${w}`));
  const flow = await startManifestFlow({
    controllerUrl: a.controllerUrl, githubUrl: a.githubUrl, org: a.org, name: a.name, port: a.port,
    converter: deps.converter, store: deps.store, log: deps.log, timeoutMs: deps.timeoutMs, host: deps.host,
  });
  try {
    const port = new URL(flow.pageUrl).port;
    deps.print(`Open this page in a browser on this machine to register the GitHub App ${a.name} on ${a.githubUrl}${a.org ? ` for ${a.org}` : ''}:`);
    deps.print(`  ${flow.pageUrl}`);
    deps.print(`(From another machine: ssh -L ${port}:127.0.0.1:${port} <this host>, then open it there. Waiting up to an hour.)`);
    deps.onPage?.(flow.pageUrl);
    const app = await flow.done;
    for (const line of nextSteps(a, app, deps.store.path)) deps.print(line);
    return app;
  } finally {
    await flow.close();
  }
}

export function nextSteps(a: GitHubAppArgs, app: CreatedApp, path: string): string[] {
  const lines = [
    '',
    `Created the GitHub App ${app.name} (id ${app.id}) owned by ${app.owner}: ${app.htmlUrl}`,
    `Its id, private key and webhook secret are in ${path} (owner-only); they are shown nowhere else.`,
    '',
    'Next:',
    `  1. Install the App on the repositories that get databases: ${installUrl(app)}`,
    `  2. Start the controller with MYAAS_CONFIG=${path} (or copy its keys into your configuration;`,
    '     unset MYAAS_GITHUB_TOKEN, which would win over the App).',
    '  3. Say which repositories get which templates: MYAAS_GITHUB_REPOS=owner/repo=template[+template…]',
    `  GitHub sends pull_request and issue_comment webhooks to ${a.controllerUrl}/api/v1/webhooks/github.`,
  ];
  if (!app.webhookSecret) lines.push('  Note: GitHub made no webhook secret; set one in the App\'s settings and as MYAAS_GITHUB_WEBHOOK_SECRET.');
  return lines;
}
