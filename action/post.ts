// The Action's post step: destroys the instance the main step created for this workflow run. A pull
// request's instance is left alone (the webhook destroys it when the pull request closes). Cleanup
// problems are warnings, never a failed job: the tests already ran, and the reaper catches leftovers.
import { createControllerClient, obtainToken } from './client.js';
import { createActionCore, isEntryPoint, readInputs, type ActionCore } from './inputs.js';

// Same keys as in index.ts; not imported, so that this bundle does not carry the main step.
const STATE_INSTANCE_ID = 'instance-id';
const STATE_DIFF_ID = 'diff-instance-id';

export interface PostDeps {
  core: ActionCore;
  fetch: typeof fetch;
}

export function createPostDeps(): PostDeps {
  return { core: createActionCore(), fetch: globalThis.fetch };
}

export async function runPost(deps: PostDeps = createPostDeps()): Promise<void> {
  await schemaDiff(deps);
  await cleanUp(deps);
}

/** What the job's migrations did to the schema: in the job summary (the controller also puts it in the pull request's comment). */
async function schemaDiff(deps: PostDeps): Promise<void> {
  const { core } = deps;
  const id = core.getState(STATE_DIFF_ID);
  if (!id) return;
  try {
    const inputs = readInputs(core);
    const { token, auth } = await obtainToken(core, inputs);
    const client = createControllerClient({ baseUrl: inputs.controllerUrl, token, auth, audience: inputs.audience, fetch: deps.fetch });
    const d = await client.schemaDiff(id);
    core.info(`myaas: schema against the template: ${d.summary}`);
    await core.summary.addRaw(`### Database schema against the template\n\n${d.markdown}\n`).write();
  } catch (e) {
    core.warning(`myaas: could not compare the schema of instance ${id} with its template: ${(e as Error)?.message ?? String(e)}`);
  }
}

async function cleanUp(deps: PostDeps): Promise<void> {
  const { core } = deps;
  const id = core.getState(STATE_INSTANCE_ID);
  if (!id) {
    core.info("myaas: no instance of this run to clean up (a pull request's instance lives until the pull request closes)");
    return;
  }
  try {
    // Inputs and the OIDC permission are the same in the post step as in the main step.
    const inputs = readInputs(core);
    const { token, auth } = await obtainToken(core, inputs);
    const client = createControllerClient({ baseUrl: inputs.controllerUrl, token, auth, audience: inputs.audience, fetch: deps.fetch });
    const result = await client.destroy(id);
    core.info(result === 'gone' ? `myaas: instance ${id} was already gone` : `myaas: destroyed instance ${id}`);
  } catch (e) {
    core.warning(`myaas: could not destroy instance ${id}: ${(e as Error)?.message ?? String(e)}. The controller's reaper removes it when its lifetime ends.`);
  }
}

if (isEntryPoint(import.meta.url)) void runPost();
