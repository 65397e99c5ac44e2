// Templates: versions from the state DB, dumps not imported yet, and imports on request or first use.
import { AppError } from '../domain/errors.js';
import { assertTemplateName, baseTemplate } from '../domain/names.js';
import type { EngineName, TemplateSummary, TemplateVersion } from '../domain/types.js';
import type { DumpSource, Importer, Store, TemplateService } from './ports.js';

export interface TemplateServiceDeps {
  store: Store;
  dumps: DumpSource;
  importer: Pick<Importer, 'start' | 'runningTemplates' | 'cancel'>;
}

/** The newest ready version among `versions`. */
export function latestOf(versions: TemplateVersion[]): TemplateVersion | null {
  return versions.filter((v) => v.status === 'ready').sort((a, b) => +(b.readyAt ?? 0) - +(a.readyAt ?? 0))[0] ?? null;
}

export function createTemplateService(deps: TemplateServiceDeps): TemplateService {
  const { store } = deps;
  return {
    async list() {
      const versions = await store.listVersions();
      const { dumps, problems } = await deps.dumps.scan();
      const names = [...new Set([...versions.map((v) => v.template), ...dumps.map((d) => d.template)])].sort();
      const templates = names.map((name): TemplateSummary => {
        const vs = versions.filter((v) => v.template === name);
        return {
          name,
          engine: vs[0]?.engine ?? dumps.find((d) => d.template === name)!.engine,
          latest: latestOf(vs)?.id ?? null,
          versions: vs,
        };
      });
      return { templates, problems };
    },
    async startImport(template) {
      return (await deps.importer.start(assertTemplateName(template))).version;
    },
    async cancelImport(template) {
      const v = await deps.importer.cancel(assertTemplateName(template));
      if (!v) throw new AppError('not_found', `no import of template "${template}" is running: list them with \`myaas templates\``);
      return v;
    },
    async engineFor(template): Promise<EngineName> {
      const latest = await store.latestReady(template);
      if (latest) return latest.engine;
      // `<template>:schema` is cut from its base template's imports.
      const base = baseTemplate(template);
      if (deps.importer.runningTemplates().includes(base)) {
        const [v] = await store.listVersions({ template: base, status: ['importing'] });
        if (v) return v.engine;
      }
      const dump = await deps.dumps.find(base).catch(() => null);
      if (!dump) {
        throw new AppError(
          'not_found',
          `template "${template}" does not exist: put a dump at ${deps.dumps.dir}/<postgres|mariadb>/${template}.sql and run \`myaas import ${template}\``,
        );
      }
      // First use of a dump: import it, instances follow when it is ready. A dump whose last import
      // failed is not imported again until it changes or someone asks (myaas import): its instances
      // fail with that import's reason instead.
      const [last] = await store.listVersions({ template: base });
      if (!(last?.status === 'failed' && last.dumpFingerprint === dump.fingerprint)) await deps.importer.start(base);
      return dump.engine;
    },
  };
}
