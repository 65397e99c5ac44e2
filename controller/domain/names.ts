// Names reach file paths, container names and SQL identifiers: validate them once, here.
import { AppError } from './errors.js';
import { ENGINE_NAMES, type EngineName } from './types.js';

const TEMPLATE = /^[a-z0-9][a-z0-9_-]{0,47}$/;
const INSTANCE = /^[a-z0-9][a-z0-9-]{0,47}$/;

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

export function isEngineName(s: string): s is EngineName {
  return (ENGINE_NAMES as readonly string[]).includes(s);
}
