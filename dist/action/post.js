import { createRequire as __myaasCreateRequire } from 'node:module';
const require = __myaasCreateRequire(import.meta.url);
import {
  createActionCore,
  createControllerClient,
  isEntryPoint,
  obtainToken,
  readInputs
} from "./chunks/chunk-RKKKUH73.js";

// action/post.ts
var STATE_INSTANCE_ID = "instance-id";
var STATE_DIFF_ID = "diff-instance-id";
function createPostDeps() {
  return { core: createActionCore(), fetch: globalThis.fetch };
}
async function runPost(deps = createPostDeps()) {
  await schemaDiff(deps);
  await cleanUp(deps);
}
async function schemaDiff(deps) {
  const { core } = deps;
  const id = core.getState(STATE_DIFF_ID);
  if (!id) return;
  try {
    const inputs = readInputs(core);
    const { token, auth } = await obtainToken(core, inputs);
    const client = createControllerClient({ baseUrl: inputs.controllerUrl, token, auth, audience: inputs.audience, fetch: deps.fetch });
    const d = await client.schemaDiff(id);
    core.info(`myaas: schema against the template: ${d.summary}`);
    await core.summary.addRaw(`### Database schema against the template

${d.markdown}
`).write();
  } catch (e) {
    core.warning(`myaas: could not compare the schema of instance ${id} with its template: ${e?.message ?? String(e)}`);
  }
}
async function cleanUp(deps) {
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
