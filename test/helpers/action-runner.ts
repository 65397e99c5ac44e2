// Runs the committed Action bundle as a GitHub runner does: `node dist/action/<step>.js` with INPUT_*,
// the file commands (GITHUB_ENV, GITHUB_OUTPUT, GITHUB_STATE), the event payload and extra env.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ActionStep {
  code: number;
  stdout: string;
  stderr: string;
  env: Record<string, string>;
  outputs: Record<string, string>;
  state: Record<string, string>;
  /** what the step wrote to the job summary (GITHUB_STEP_SUMMARY) */
  summary: string;
  ms: number;
}

/** The file-command format of GITHUB_ENV, GITHUB_OUTPUT and GITHUB_STATE: name<<delimiter … delimiter. */
export function parseFileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i]);
    if (!m) continue;
    const end = lines.indexOf(m[2], i + 1);
    out[m[1]] = lines.slice(i + 1, end).join('\n');
    i = end;
  }
  return out;
}

export async function runActionStep(opts: {
  script: 'index' | 'post';
  /** a fresh temp dir for this step's files */
  dir: string;
  eventName: string;
  event: unknown;
  repository: string;
  /** every declared input, as the runner passes them (defaults filled in) */
  inputs: Record<string, string>;
  /** e.g. the OIDC token request variables */
  env?: Record<string, string>;
  /** the main step's saved state, handed to the post step as STATE_<name> */
  state?: Record<string, string>;
}): Promise<ActionStep> {
  const files = {
    env: join(opts.dir, `env-${opts.script}`), out: join(opts.dir, `out-${opts.script}`), state: join(opts.dir, `state-${opts.script}`),
    summary: join(opts.dir, `summary-${opts.script}`), event: join(opts.dir, 'event.json'),
  };
  for (const f of [files.env, files.out, files.state, files.summary]) await writeFile(f, '');
  await writeFile(files.event, JSON.stringify(opts.event));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    GITHUB_ACTIONS: 'true', GITHUB_EVENT_NAME: opts.eventName, GITHUB_EVENT_PATH: files.event, GITHUB_REPOSITORY: opts.repository,
    GITHUB_RUN_ID: '4242', GITHUB_RUN_ATTEMPT: '1', GITHUB_ENV: files.env, GITHUB_OUTPUT: files.out, GITHUB_STATE: files.state, GITHUB_STEP_SUMMARY: files.summary,
    RUNNER_TEMP: opts.dir,
    ...opts.env,
    ...Object.fromEntries(Object.entries(opts.inputs).map(([k, v]) => [`INPUT_${k.replace(/ /g, '_').toUpperCase()}`, v])),
    ...Object.fromEntries(Object.entries(opts.state ?? {}).map(([k, v]) => [`STATE_${k}`, v])),
  };
  const t0 = Date.now();
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, [join(root, 'dist', 'action', `${opts.script}.js`)], { env, cwd: opts.dir }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    ),
  );
  const ms = Date.now() - t0;
  const read = async (f: string) => parseFileCommands(await readFile(f, 'utf8'));
  return { code, stdout, stderr, ms, env: await read(files.env), outputs: await read(files.out), state: await read(files.state), summary: await readFile(files.summary, 'utf8') };
}
