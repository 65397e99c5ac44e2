// Names reach file paths, container names and SQL identifiers: validate them once, here.
import { AppError } from './errors.js';
import { ENGINE_NAMES, type EngineName } from './types.js';

const TEMPLATE = /^[a-z0-9][a-z0-9_-]{0,47}$/;
const INSTANCE = /^[a-z0-9][a-z0-9-]{0,47}$/;

export function validTemplateName(name: string): boolean {
  return TEMPLATE.test(name);
}

/**
 * A template's schema-only variant: asked for as `<template>:schema`, kept as `<template>.schema`
 * (a colon would split Docker's bind syntax; a dot cannot occur in a dump's template name).
 */
export const SCHEMA_SUFFIX = '.schema';
export const schemaVariantOf = (template: string): string => `${template}${SCHEMA_SUFFIX}`;
/** The template a name belongs to: itself, or the base of a schema-only variant. */
export const baseTemplate = (template: string): string => (template.endsWith(SCHEMA_SUFFIX) ? template.slice(0, -SCHEMA_SUFFIX.length) : template);
export const isSchemaVariant = (template: string): boolean => template.endsWith(SCHEMA_SUFFIX);
/** How a template is shown and asked for: `chinook`, `chinook:schema`. */
export const displayTemplate = (template: string): string => (isSchemaVariant(template) ? `${baseTemplate(template)}:schema` : template);

/** A template name as callers give it (`chinook`, `chinook:schema`), as the controller keeps it. */
export function assertTemplateName(name: unknown): string {
  if (typeof name === 'string' && /(:|\.)schema$/.test(name)) return schemaVariantOf(assertTemplateName(name.slice(0, -':schema'.length)));
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
