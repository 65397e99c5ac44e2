// The Action's inputs, read and validated once, and the one place that hands out the real
// @actions/core (everything else receives an ActionCore, so tests can stand in for the runner).
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as core from '@actions/core';

/** The parts of @actions/core the Action uses: runner commands and file commands. */
export type ActionCore = Pick<
  typeof core,
  | 'getInput'
  | 'getIDToken'
  | 'setSecret'
  | 'exportVariable'
  | 'setOutput'
  | 'saveState'
  | 'getState'
  | 'info'
  | 'warning'
  | 'setFailed'
>;

/** The real runner interface. */
export function createActionCore(): ActionCore {
  return core;
}

/**
 * True when the module at `moduleUrl` is the script node was started with (the runner runs
 * `node dist/action/index.js`), false when a test imports it.
 */
export function isEntryPoint(moduleUrl: string, argv1: string | undefined = process.argv[1]): boolean {
  if (!argv1) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

export interface ActionInputs {
  /** without a trailing slash */
  controllerUrl: string;
  template: string;
  /** an API token, or null to use a GitHub OIDC token */
  token: string | null;
  timeoutSeconds: number;
  reset: boolean;
  envName: string;
  audience: string;
}

/** Thrown for a mistake the workflow author must fix; its message is the whole story. */
export class ActionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ActionError';
  }
}

// Same rule as the controller's template names (controller/domain/names.ts); the Action may not import
// controller code, and checking here gives a clearer message than a 400 after a network round trip.
const TEMPLATE = /^[a-z0-9][a-z0-9_-]{0,47}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_TIMEOUT_S = 3600;

export function readInputs(c: Pick<ActionCore, 'getInput' | 'setSecret'>): ActionInputs {
  const get = (name: string) => c.getInput(name).trim();

  // Mask first: a token passed as a plain string (not a secret) must not show up in any later line.
  const token = get('token') || null;
  if (token) c.setSecret(token);

  const rawUrl = get('controller-url');
  if (!rawUrl) throw new ActionError('input controller-url is required: the base URL of the myaas controller, e.g. https://myaas.example.com');
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new ActionError(`input controller-url ${JSON.stringify(rawUrl)} is not a URL: use e.g. https://myaas.example.com`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ActionError(`input controller-url must be http:// or https://, got ${url.protocol}`);
  }
  if (url.username || url.password) {
    throw new ActionError('input controller-url must not carry credentials: pass an API token in the `token` input instead');
  }

  const template = get('template');
  if (!template) throw new ActionError('input template is required: the name of a template on the controller, e.g. chinook');
  if (!TEMPLATE.test(template)) {
    throw new ActionError(`input template ${JSON.stringify(template)} is not a template name: 1-48 lowercase letters, digits, '-' or '_'`);
  }

  const rawTimeout = get('timeout') || '120';
  const timeout = /^[0-9]+$/.test(rawTimeout) ? Number(rawTimeout) : NaN;
  if (!(timeout >= 1 && timeout <= MAX_TIMEOUT_S)) {
    throw new ActionError(`input timeout must be a whole number of seconds between 1 and ${MAX_TIMEOUT_S}, got ${JSON.stringify(rawTimeout)}`);
  }

  const rawReset = (get('reset') || 'false').toLowerCase();
  if (rawReset !== 'true' && rawReset !== 'false') {
    throw new ActionError(`input reset must be true or false, got ${JSON.stringify(rawReset)}`);
  }

  const envName = get('env-name') || 'DB_URL';
  if (!ENV_NAME.test(envName)) {
    throw new ActionError(`input env-name ${JSON.stringify(envName)} is not a valid environment variable name`);
  }

  // The controller's default audience is its own public URL: a token minted for it is good for it alone.
  const audience = get('audience') || url.href.replace(/\/+$/, '');

  return {
    controllerUrl: url.href.replace(/\/+$/, ''),
    template,
    token,
    timeoutSeconds: timeout,
    reset: rawReset === 'true',
    envName,
    audience,
  };
}
