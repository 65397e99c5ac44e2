// Names reach file paths, container names and SQL identifiers: validate them once, here.
import { AppError } from './errors.js';
import { ENGINE_NAMES, type EngineName } from './types.js';

const TEMPLATE = /^[a-z0-9][a-z0-9_-]{0,47}$/;
const INSTANCE = /^[a-z0-9][a-z0-9-]{0,47}$/;
const OWNER = /^(gh:[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+(#[0-9]+|@run-[0-9]+(-[0-9]+)?)|api:[A-Za-z0-9_.@-]{1,64})$/;

export function validTemplateName(name: string): boolean {
  return TEMPLATE.test(name);
}

export function assertTemplateName(name: unknown): string {
  if (typeof name !== 'string' || !TEMPLATE.test(name)) {
    throw new AppError(
      'invalid_name',
      `invalid template name ${JSON.stringify(name)}: use 1-48 lowercase letters, digits, '-' or '_', starting with a letter or digit`,
    );
  }
  return name;
}

export function assertInstanceName(name: unknown): string {
  if (typeof name !== 'string' || !INSTANCE.test(name)) {
    throw new AppError(
      'invalid_name',
      `invalid instance name ${JSON.stringify(name)}: use 1-48 lowercase letters, digits or '-', starting with a letter or digit`,
    );
  }
  return name;
}

export function assertOwnerKey(owner: unknown): string {
  if (typeof owner !== 'string' || !OWNER.test(owner)) {
    throw new AppError('bad_request', `invalid owner key ${JSON.stringify(owner)}`);
  }
  return owner;
}

export function isEngineName(s: string): s is EngineName {
  return (ENGINE_NAMES as readonly string[]).includes(s);
}

/** Default instance name derived from an owner key and template, e.g. `pr-12-chinook`. */
export function defaultInstanceName(owner: string, template: string): string {
  const pr = /#([0-9]+)$/.exec(owner);
  const run = /@run-([0-9-]+)$/.exec(owner);
  const api = /^api:(.+)$/.exec(owner);
  let base = pr ? `pr-${pr[1]}` : run ? `run-${run[1]}` : api ? api[1] : 'instance';
  base = base.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'instance';
  return `${base}-${template.replace(/_/g, '-')}`.slice(0, 48).replace(/-+$/, '');
}
