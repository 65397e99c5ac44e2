// The Action's main step: get the pull request's (or this run's) instance, wait until it is ready,
// mask its secrets, export its URL and set the outputs.
import * as github from '@actions/github';
import type { ConnectionDto, CreateInstanceRequest, InstanceDto, OwnerSpec } from '../controller/contract.js';
import { createControllerClient, ensureReady, obtainToken } from './client.js';
import { ActionError, createActionCore, isEntryPoint, readInputs, type ActionCore } from './inputs.js';

/** State key the post step reads: set only when the instance belongs to this run. */
export const STATE_INSTANCE_ID = 'instance-id';
/** State key of the instance whose schema the post step compares with its template. */
export const STATE_DIFF_ID = 'diff-instance-id';

export interface ActionContext {
  eventName: string;
  /** the pull request's number for a `pull_request` event, else null */
  pullRequest: number | null;
  /** `owner/repo`, or null outside a runner */
  repository: string | null;
  runId: string | null;
  runAttempt: string | null;
}

export interface RunDeps {
  core: ActionCore;
  fetch: typeof fetch;
  context: ActionContext;
  now?: () => number;
}

export function contextFrom(ctx: typeof github.context, env: NodeJS.ProcessEnv = process.env): ActionContext {
  const num = (n: number) => (Number.isSafeInteger(n) && n > 0 ? String(n) : null);
  const pr = ctx.payload.pull_request?.number;
  return {
    eventName: ctx.eventName ?? '',
    // pull_request_target runs on the base branch, so its OIDC ref (and owner key) is a run's, not the PR's.
    pullRequest: ctx.eventName === 'pull_request' && typeof pr === 'number' ? pr : null,
    repository: env.GITHUB_REPOSITORY || null,
    runId: num(ctx.runId),
    runAttempt: num(ctx.runAttempt),
  };
}

/** The real runner: @actions/core, the global fetch and the workflow's context. */
export function createRunDeps(): RunDeps {
  return { core: createActionCore(), fetch: globalThis.fetch, context: contextFrom(github.context) };
}

/**
 * The owner to ask for when authenticating with an admin API token; with OIDC the controller derives
 * it from the token's claims in the same way (a pull request's, else this run's attempt).
 */
export function ownerFor(ctx: ActionContext): OwnerSpec | undefined {
  if (!ctx.repository) return undefined;
  if (ctx.pullRequest !== null) return { kind: 'pull', repository: ctx.repository, number: ctx.pullRequest };
  if (!ctx.runId) return undefined;
  return { kind: 'run', repository: ctx.repository, runId: ctx.runId, attempt: ctx.runAttempt ?? '1' };
}

export async function run(deps: RunDeps = createRunDeps()): Promise<void> {
  const { core, context } = deps;
  const now = deps.now ?? Date.now;
  const started = now();
  try {
    const inputs = readInputs(core);
    const { token, auth } = await obtainToken(core, inputs);
    const client = createControllerClient({ baseUrl: inputs.controllerUrl, token, auth, audience: inputs.audience, fetch: deps.fetch });

    const req: CreateInstanceRequest = { template: inputs.template };
    if (auth === 'token') {
      const owner = ownerFor(context);
      if (owner) req.owner = owner;
    }

    const masked = new Set<string>();
    let saved = false;
    const { instance, created } = await ensureReady(client, req, {
      timeoutSeconds: inputs.timeoutSeconds,
      reset: inputs.reset,
      now,
      // Every reply goes through here first: secrets are masked before anything could print them,
      // and a run's instance is handed to the post step even if waiting fails later.
      onInstance: (inst) => {
        if (inst.connection) maskConnection(core, inst.connection, masked);
        if (!saved && inst.ownerKind === 'run') {
          core.saveState(STATE_INSTANCE_ID, inst.id);
          saved = true;
        }
      },
    });
    const conn = instance.connection as ConnectionDto;
    maskConnection(core, conn, masked);
    // After the job (its migrations ran), the post step reports what they did to the schema.
    const diff = inputs.schemaDiff === 'true' || (inputs.schemaDiff === 'auto' && instance.ownerKind === 'pull');
    if (diff) core.saveState(STATE_DIFF_ID, instance.id);

    core.exportVariable(inputs.envName, conn.url);
    const outputs: Record<string, string> = {
      url: conn.url,
      host: conn.host,
      port: String(conn.port),
      user: conn.user,
      password: conn.password,
      database: conn.database,
      'instance-id': instance.id,
      created: String(created),
      'template-version': instance.templateVersion ?? '',
    };
    for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value);

    core.info(summary(instance, conn, created, inputs.envName, (now() - started) / 1000, saved));
  } catch (e) {
    core.setFailed(e instanceof ActionError ? e.message : `unexpected error: ${(e as Error)?.stack ?? String(e)}`);
  }
}

function maskConnection(core: Pick<ActionCore, 'setSecret'>, conn: ConnectionDto, masked: Set<string>): void {
  // The URL carries the password percent-encoded; mask that spelling too.
  for (const secret of [conn.password, encodeURIComponent(conn.password), conn.url]) {
    if (secret && !masked.has(secret)) {
      core.setSecret(secret);
      masked.add(secret);
    }
  }
}

function summary(inst: InstanceDto, conn: ConnectionDto, created: boolean, envName: string, seconds: number, ownedByRun: boolean): string {
  const whose = ownedByRun
    ? 'It belongs to this workflow run; the post step destroys it.'
    : inst.ownerKind === 'pull'
      ? `It belongs to pull request ${inst.owner.slice(inst.owner.lastIndexOf('#'))} and lives until the pull request closes.`
      : `It belongs to ${inst.owner}.`;
  return (
    `myaas: ${created ? 'created' : 'using'} instance ${inst.name} (${inst.id}) of template ${inst.template}` +
    `${inst.templateVersion ? ` version ${inst.templateVersion}` : ''}: ${conn.host}:${conn.port}, database ${conn.database}, ` +
    `user ${conn.user}. ${envName} exported after ${seconds.toFixed(1)} s. ${whose}`
  );
}

// Run when executed as the bundle's entry point (node dist/action/index.js), not when imported by tests.
if (isEntryPoint(import.meta.url)) void run();
