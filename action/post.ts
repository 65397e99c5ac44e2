// The Action's post step: destroys the instance the main step created for this workflow run. A pull
// request's instance is left alone (the webhook destroys it when the pull request closes). Cleanup
// problems are warnings, never a failed job: the tests already ran, and the reaper catches leftovers.
import { createControllerClient, obtainToken } from './client.js';
import { createActionCore, isEntryPoint, readInputs, type ActionCore } from './inputs.js';

// Same key as STATE_INSTANCE_ID in index.ts; not imported, so that this bundle does not carry the main step.
const STATE_INSTANCE_ID = 'instance-id';

export interface PostDeps {
  core: ActionCore;
  fetch: typeof fetch;
}

export function createPostDeps(): PostDeps {
  return { core: createActionCore(), fetch: globalThis.fetch };
}

export async function runPost(deps: PostDeps = createPostDeps()): Promise<void> {
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
