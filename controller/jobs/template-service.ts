// Templates as the API shows them: versions from the state DB, plus dumps not imported yet.
import type { Store } from '../db/store.js';
import type { TemplateVersion } from '../domain/types.js';
import type { TemplateDto, TemplateVersionDto } from '../http/contract.js';
import { scanDumps } from './dumps.js';

export function versionDto(v: TemplateVersion): TemplateVersionDto {
  return {
    id: v.id,
    status: v.status,
    createdAt: v.createdAt.toISOString(),
    readyAt: v.readyAt?.toISOString() ?? null,
    sizeBytes: v.sizeBytes,
    ...(v.error ? { error: v.error } : {}),
    ...(v.phase ? { phase: v.phase } : {}),
  };
}

export function createTemplateService(deps: { store: Store; dumpsDir: string }) {
  return {
    async list(): Promise<{ templates: TemplateDto[]; problems: string[] }> {
      const versions = await deps.store.listVersions();
      const { dumps, problems } = await scanDumps(deps.dumpsDir);
      const names = [...new Set([...versions.map((v) => v.template), ...dumps.map((d) => d.template)])].sort();
      const templates = names.map((name): TemplateDto => {
        const vs = versions.filter((v) => v.template === name);
        const latest = vs.filter((v) => v.status === 'ready').sort((a, b) => +(b.readyAt ?? 0) - +(a.readyAt ?? 0))[0];
        return {
          name,
          engine: vs[0]?.engine ?? dumps.find((d) => d.template === name)!.engine,
          latest: latest?.id ?? null,
          versions: vs.map(versionDto),
        };
      });
      return { templates, problems };
    },
  };
}
