// Finds dumps under <dumps>/<engine>/<template>.<ext> and prepares them for loading.
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { AppError, messageOf } from '../domain/errors.js';
import { isEngineName, validTemplateName } from '../domain/names.js';
import { ENGINE_NAMES, type EngineName } from '../domain/types.js';

export type DumpFormat = 'sql' | 'sql.gz' | 'dump';

export interface Dump {
  template: string;
  engine: EngineName;
  format: DumpFormat;
  /** file name inside <dumps>/<engine>/ */
  file: string;
  /** `<template>.after.sql` next to it, if present */
  afterFile: string | null;
  sizeBytes: number;
}

export interface DumpScan {
  dumps: Dump[];
  /** folders and files that were skipped, with why */
  problems: string[];
}

const FORMATS: Array<[string, DumpFormat]> = [['.sql.gz', 'sql.gz'], ['.sql', 'sql'], ['.dump', 'dump']];

export async function scanDumps(dumpsDir: string): Promise<DumpScan> {
  const dumps: Dump[] = [];
  const problems: string[] = [];
  let entries: string[];
  try {
    entries = await readdir(dumpsDir);
  } catch {
    return { dumps, problems: [`dumps dir ${dumpsDir} does not exist: create ${dumpsDir}/<engine>/<template>.sql`] };
  }
  for (const folder of entries.sort()) {
    if (!(await stat(join(dumpsDir, folder))).isDirectory()) continue;
    if (!isEngineName(folder)) {
      const files = (await readdir(join(dumpsDir, folder))).filter((f) => FORMATS.some(([ext]) => f.endsWith(ext)));
      for (const f of files.length ? files : ['']) {
        problems.push(`${join(dumpsDir, folder, f)}: unknown engine folder "${folder}" (use ${ENGINE_NAMES.join(' or ')})`);
      }
      continue;
    }
    for (const file of (await readdir(join(dumpsDir, folder))).sort()) {
      if (file.endsWith('.after.sql')) continue;
      const fmt = FORMATS.find(([ext]) => file.endsWith(ext));
      if (!fmt) continue;
      const template = file.slice(0, -fmt[0].length);
      if (fmt[1] === 'dump' && folder !== 'postgres') {
        problems.push(`${join(dumpsDir, folder, file)}: .dump archives are pg_dump -Fc files and only load into postgres`);
        continue;
      }
      if (!validTemplateName(template)) {
        problems.push(`${join(dumpsDir, folder, file)}: "${template}" is not a valid template name (lowercase letters, digits, '-', '_')`);
        continue;
      }
      const clash = dumps.find((d) => d.template === template);
      if (clash) {
        problems.push(`${join(dumpsDir, folder, file)}: template "${template}" already comes from ${clash.engine}/${clash.file}; rename one`);
        continue;
      }
      const after = `${template}.after.sql`;
      const hasAfter = (await readdir(join(dumpsDir, folder))).includes(after);
      const { size } = await stat(join(dumpsDir, folder, file));
      dumps.push({ template, engine: folder, format: fmt[1], file, afterFile: hasAfter ? after : null, sizeBytes: size });
    }
  }
  return { dumps, problems };
}

export async function findDump(dumpsDir: string, template: string): Promise<Dump> {
  const { dumps, problems } = await scanDumps(dumpsDir);
  const d = dumps.find((x) => x.template === template);
  if (d) return d;
  const related = problems.filter((p) => p.includes(template));
  throw new AppError(
    'not_found',
    related.length
      ? related.join('; ')
      : `no dump for template "${template}": put it at ${dumpsDir}/<postgres|mariadb>/${template}.sql (or .sql.gz, or .dump for pg_dump -Fc)`,
  );
}

/** Decompresses a .sql.gz to `dest`; a truncated or corrupt archive fails here, before any container exists. */
export async function gunzipTo(src: string, dest: string): Promise<void> {
  try {
    await pipeline(createReadStream(src), createGunzip(), createWriteStream(dest, { mode: 0o644 }));
  } catch (e) {
    const m = messageOf(e);
    if (/ENOSPC/.test(m)) throw new AppError('insufficient_storage', `no space left decompressing ${src}: free space in the data dir`);
    throw new AppError('import_failed', `${src} is not a complete gzip file (${m}): re-create or re-upload the dump`);
  }
}
