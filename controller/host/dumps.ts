// Reads the dumps folder: <dumps>/<engine>/<template>.<ext>, and decompresses .sql.gz for loading.
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { afterFileOf, classifyDumpFile, isDumpFile, missingDumpMessage, unknownEngineFolder, type Dump, type DumpScan } from '../domain/dumps.js';
import { AppError, messageOf } from '../domain/errors.js';
import { maskFileNames } from '../domain/masking.js';
import type { EngineName } from '../domain/types.js';

export interface DumpSource {
  readonly dir: string;
  scan(): Promise<DumpScan>;
  /** The dump of `template`; AppError not_found saying where to put it. */
  find(template: string): Promise<Dump>;
  /** Host folder of one engine's dumps (mounted read-only into import containers). */
  folder(engine: EngineName): string;
  /** Decompresses a .sql.gz to `dest`; a truncated or corrupt archive fails here, before any container exists. */
  decompress(dump: Dump, dest: string): Promise<void>;
  /** The text of a file next to the dump (its masking rules). */
  readCompanion(dump: Dump, file: string): Promise<string>;
}

export function createDumpSource(dumpsDir: string): DumpSource {
  async function scan(): Promise<DumpScan> {
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
      const files = (await readdir(join(dumpsDir, folder))).sort();
      const bad = unknownEngineFolder(folder, join(dumpsDir, folder));
      if (bad) {
        const named = files.filter(isDumpFile);
        for (const f of named.length ? named : ['']) problems.push(unknownEngineFolder(folder, join(dumpsDir, folder, f)) as string);
        continue;
      }
      const engine = folder as EngineName;
      for (const file of files) {
        const c = classifyDumpFile(engine, file, join(dumpsDir, folder, file));
        if (!c) continue;
        if ('problem' in c) {
          problems.push(c.problem);
          continue;
        }
        const clash = dumps.find((d) => d.template === c.template);
        if (clash) {
          problems.push(`${join(dumpsDir, folder, file)}: template "${c.template}" already comes from ${clash.engine}/${clash.file}; rename one`);
          continue;
        }
        const { size, mtimeMs } = await stat(join(dumpsDir, folder, file));
        const after = afterFileOf(c.template);
        const afterStat = files.includes(after) ? await stat(join(dumpsDir, folder, after)) : null;
        const mask = maskFileNames(c.template).find((m) => files.includes(m)) ?? null;
        const maskStat = mask ? await stat(join(dumpsDir, folder, mask)) : null;
        const part = (st: { size: number; mtimeMs: number } | null) => (st ? `${st.size}:${Math.trunc(st.mtimeMs)}` : '');
        // Any change of the dump, its after-script or its masking rules makes a new import worth trying.
        const fingerprint = [size, Math.trunc(mtimeMs), part(afterStat), part(maskStat)].join(':');
        dumps.push({ template: c.template, engine, format: c.format, file, afterFile: afterStat ? after : null, maskFile: mask, sizeBytes: size, fingerprint });
      }
    }
    return { dumps, problems };
  }

  return {
    dir: dumpsDir,
    scan,
    async find(template) {
      const { dumps, problems } = await scan();
      const d = dumps.find((x) => x.template === template);
      if (d) return d;
      throw new AppError('not_found', missingDumpMessage(dumpsDir, template, problems));
    },
    folder: (engine) => join(dumpsDir, engine),
    readCompanion: (dump, file) => readFile(join(dumpsDir, dump.engine, file), 'utf8'),
    async decompress(dump, dest) {
      const src = join(dumpsDir, dump.engine, dump.file);
      try {
        await pipeline(createReadStream(src), createGunzip(), createWriteStream(dest, { mode: 0o644 }));
      } catch (e) {
        const m = messageOf(e);
        if (/ENOSPC/.test(m)) throw new AppError('insufficient_storage', `no space left decompressing ${src}: free space in the data dir`);
        throw new AppError('import_failed', `${src} is not a complete gzip file (${m}): re-create or re-upload the dump`);
      }
    },
  };
}
