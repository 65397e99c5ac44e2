// What a dump file is, judged from its place and name: <dumps>/<engine>/<template>.<ext>. Pure; the
// folder is read by host/dumps.ts.
import { isEngineName, validTemplateName } from './names.js';
import { ENGINE_NAMES, type EngineName } from './types.js';

export type DumpFormat = 'sql' | 'sql.gz' | 'dump';

export interface Dump {
  template: string;
  engine: EngineName;
  format: DumpFormat;
  /** file name inside <dumps>/<engine>/ */
  file: string;
  /** `<template>.after.sql` next to it, if present */
  afterFile: string | null;
  /** `<template>.mask.json` (or .yaml/.yml) next to it, if present: masking rules applied before the after-script */
  maskFile?: string | null;
  sizeBytes: number;
  /** size and modification time: changes when the dump is replaced */
  fingerprint: string;
}

export interface DumpScan {
  dumps: Dump[];
  /** folders and files that were skipped, with why */
  problems: string[];
}

const FORMATS: Array<[string, DumpFormat]> = [['.sql.gz', 'sql.gz'], ['.sql', 'sql'], ['.dump', 'dump']];

export const isDumpFile = (file: string): boolean => FORMATS.some(([ext]) => file.endsWith(ext));
/** Files next to a dump that belong to it rather than being dumps themselves. */
const COMPANION = /\.(after\.sql|mask\.(json|ya?ml))$/;
export const afterFileOf = (template: string): string => `${template}.after.sql`;

export type Classified = { template: string; format: DumpFormat } | { problem: string } | null;

/** A file in an engine folder: a dump of some template, a problem to report, or not a dump (null). */
export function classifyDumpFile(engine: EngineName, file: string, where: string): Classified {
  if (COMPANION.test(file)) return null;
  const fmt = FORMATS.find(([ext]) => file.endsWith(ext));
  if (!fmt) return null;
  const template = file.slice(0, -fmt[0].length);
  if (fmt[1] === 'dump' && engine !== 'postgres') {
    return { problem: `${where}: .dump archives are pg_dump -Fc files and only load into postgres` };
  }
  if (!validTemplateName(template)) {
    return { problem: `${where}: "${template}" is not a valid template name (lowercase letters, digits, '-', '_')` };
  }
  return { template, format: fmt[1] };
}

/** The problem with a folder that is not named after an engine. */
export function unknownEngineFolder(folder: string, where: string): string | null {
  return isEngineName(folder) ? null : `${where}: unknown engine folder "${folder}" (use ${ENGINE_NAMES.join(' or ')})`;
}

/** What to tell someone who asked for a template that has no dump. */
export function missingDumpMessage(dumpsDir: string, template: string, problems: string[]): string {
  const related = problems.filter((p) => p.includes(template));
  return related.length
    ? related.join('; ')
    : `no dump for template "${template}": put it at ${dumpsDir}/<postgres|mariadb>/${template}.sql (or .sql.gz, or .dump for pg_dump -Fc)`;
}
