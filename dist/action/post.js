import { createRequire as __myaasCreateRequire } from 'node:module';
const require = __myaasCreateRequire(import.meta.url);
import {
  createActionCore,
  createControllerClient,
  isEntryPoint,
  obtainToken,
  readInputs
} from "./chunks/chunk-ZP6NIWKC.js";

// action/post.ts
var STATE_INSTANCE_ID = "instance-id";
function createPostDeps() {
  return { core: createActionCore(), fetch: globalThis.fetch };
}
async function runPost(deps = createPostDeps()) {
  const { core } = deps;
  const id = core.getState(STATE_INSTANCE_ID);
  if (!id) {
    core.info("myaas: no instance of this run to clean up (a pull request's instance lives until the pull request closes)");
    return;
  }
  try {
    const inputs = readInputs(core);
    const { token, auth } = await obtainToken(core, inputs);
    const client = createControllerClient({ baseUrl: inputs.controllerUrl, token, auth, audience: inputs.audience, fetch: deps.fetch });
    const result = await client.destroy(id);
    core.info(result === "gone" ? `myaas: instance ${id} was already gone` : `myaas: destroyed instance ${id}`);
  } catch (e) {
    core.warning(`myaas: could not destroy instance ${id}: ${e?.message ?? String(e)}. The controller's reaper removes it when its lifetime ends.`);
  }
}
if (isEntryPoint(import.meta.url)) void runPost();
export {
  createPostDeps,
  runPost
};
