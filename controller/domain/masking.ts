// Masking rules next to a dump (`<template>.mask.json` or `.mask.yaml`): which columns get which fake
// values during import. Parsing and validation only; the engines turn rules into SQL. Pure.
//
// Either a flat map               or, with a salt that keeps masked values from being looked up
//   { "customer.email": "email",     { "salt": "s3cret", "columns": { "customer.email": "email" } }
//     "public.customer.phone": "phone" }
// Keys are `table.column` (`schema.table.column` also for PostgreSQL, where `table.column` means
// schema public). Masking is deterministic per value, so joins on masked columns still match.
import { parse as parseYaml } from 'yaml';
import { AppError, messageOf } from './errors.js';
import type { EngineName } from './types.js';

export const MASK_STRATEGIES = ['email', 'name', 'phone', 'hash', 'null', 'keep'] as const;
export type MaskStrategy = (typeof MASK_STRATEGIES)[number];
/** Strategies that write text, so they need a text column. */
export const TEXT_STRATEGIES: readonly MaskStrategy[] = ['email', 'name', 'phone', 'hash'];

export interface MaskRule {
  /** the key as written in the file, for messages */
  key: string;
  /** PostgreSQL schema (`public` when not written); null for MariaDB */
  schema: string | null;
  table: string;
  column: string;
  strategy: MaskStrategy;
}

export interface MaskRules {
  /** file name, for messages */
  file: string;
  /** mixed into every hash; empty when the file has none */
  salt: string;
  rules: MaskRule[];
}

/** File names that may hold a template's masking rules, in the order they are looked for. */
export function maskFileNames(template: string): string[] {
  return ['json', 'yaml', 'yml'].map((ext) => `${template}.mask.${ext}`);
}

// Quoted in the generated SQL, so most characters would do; dots would make keys ambiguous, and quotes,
// backslashes and control characters have no business in a name someone types into a rules file.
const NAME = /^[^."`'\\\u0000-\u001f]{1,64}$/;

function fail(file: string, what: string): never {
  throw new AppError('import_failed', `masking rules ${file}: ${what}`);
}

function parseText(file: string, text: string): unknown {
  try {
    return /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    return fail(file, `not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${messageOf(e).split('\n')[0]}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseKey(file: string, key: string, engine: EngineName): Pick<MaskRule, 'schema' | 'table' | 'column'> {
  const parts = key.split('.');
  const shape = engine === 'postgres' ? '`table.column` or `schema.table.column`' : '`table.column`';
  const ok = engine === 'postgres' ? parts.length === 2 || parts.length === 3 : parts.length === 2;
  if (!ok) fail(file, `${JSON.stringify(key)} is not ${shape}`);
  const bad = parts.find((p) => !NAME.test(p));
  if (bad !== undefined) {
    fail(file, `${JSON.stringify(key)}: ${JSON.stringify(bad)} is not a usable name (1 to 64 characters, no dots, quotes, backslashes or control characters)`);
  }
  if (engine !== 'postgres') return { schema: null, table: parts[0], column: parts[1] };
  return parts.length === 3 ? { schema: parts[0], table: parts[1], column: parts[2] } : { schema: 'public', table: parts[0], column: parts[1] };
}

/** Parses and validates a rules file (JSON, or YAML by its ending); throws naming the file and the bad entry. */
export function parseMaskRules(file: string, text: string, engine: EngineName): MaskRules {
  const doc = parseText(file, text);
  if (!isObject(doc)) fail(file, 'expected an object of "table.column": strategy entries');
  let salt = '';
  let columns: Record<string, unknown> = doc;
  if ('columns' in doc) {
    const extra = Object.keys(doc).filter((k) => k !== 'columns' && k !== 'salt');
    if (extra.length) fail(file, `unknown key ${JSON.stringify(extra[0])} next to "columns" (only "salt" may be there)`);
    if (!isObject(doc.columns)) fail(file, '"columns" must be an object of "table.column": strategy entries');
    if (doc.salt !== undefined && (typeof doc.salt !== 'string' || doc.salt.length > 256)) fail(file, '"salt" must be a string of at most 256 characters');
    salt = (doc.salt as string | undefined) ?? '';
    columns = doc.columns;
  }
  const rules: MaskRule[] = [];
  const seen = new Map<string, string>();
  for (const [key, value] of Object.entries(columns)) {
    const target = parseKey(file, key, engine);
    // YAML and JSON both have a null literal; `null` there means the null strategy.
    const strategy = value === null ? 'null' : value;
    if (typeof strategy !== 'string' || !(MASK_STRATEGIES as readonly string[]).includes(strategy)) {
      fail(file, `${JSON.stringify(key)}: unknown strategy ${JSON.stringify(value)} (use one of ${MASK_STRATEGIES.join(', ')})`);
    }
    const id = [target.schema, target.table, target.column].join('.');
    if (seen.has(id)) fail(file, `${JSON.stringify(key)} names the same column as ${JSON.stringify(seen.get(id))}`);
    seen.set(id, key);
    rules.push({ key, ...target, strategy: strategy as MaskStrategy });
  }
  if (rules.length === 0) fail(file, 'no columns named');
  return { file, salt, rules };
}

/** Rules grouped by table (schema and table), in the order the tables first appear. */
export function rulesByTable(rules: MaskRule[]): MaskRule[][] {
  const groups = new Map<string, MaskRule[]>();
  for (const r of rules) {
    const k = `${r.schema ?? ''}.${r.table}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()];
}

/** Given names and family names for the `name` strategy; shared so both engines draw from the same lists. */
export const MASK_FIRST_NAMES = [
  'Alex', 'Blake', 'Casey', 'Dana', 'Eden', 'Finley', 'Gray', 'Harper', 'Indigo', 'Jordan', 'Kai', 'Logan', 'Morgan', 'Noel', 'Oakley', 'Parker',
  'Quinn', 'Reese', 'Sage', 'Taylor', 'Umber', 'Val', 'Wren', 'Xen', 'Yael', 'Zion', 'Ari', 'Bo', 'Cruz', 'Drew', 'Ellis', 'Frankie',
] as const;
export const MASK_LAST_NAMES = [
  'Abbott', 'Barlow', 'Carver', 'Dalton', 'Easton', 'Fairley', 'Garrow', 'Hale', 'Irving', 'Jansen', 'Keller', 'Lowry', 'Marsh', 'Norland', 'Orrin', 'Pryce',
  'Quill', 'Rowan', 'Sterling', 'Thorne', 'Upton', 'Vance', 'Whitlock', 'Yardley', 'Zeller', 'Ashby', 'Brandt', 'Colby', 'Dorsey', 'Emery', 'Fenwick', 'Gale',
] as const;
