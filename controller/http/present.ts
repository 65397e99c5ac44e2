// The API's replies, shaped from the core's records: the one place that knows the contract's DTOs.
import type { ConnectionDto, InstanceDto, OwnerSpec, TemplateDto, TemplateVersionDto } from '../contract.js';
import { AppError } from '../domain/errors.js';
import { apiOwner, assertOwner, parseOwner, pullOwner, runOwner, type OwnerKey } from '../domain/owner.js';
import type { InstanceRecord, InstanceView, TemplateSummary, TemplateVersion } from '../domain/types.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** With `details` false (a repository's token), a failed import says only that it failed: its tool's words may quote data. */
export function versionDto(v: TemplateVersion, opts: { details: boolean } = { details: true }): TemplateVersionDto {
  const error = v.error && !opts.details ? 'the import failed; an admin sees why (myaas templates)' : v.error;
  return {
    id: v.id,
    status: v.status,
    createdAt: v.createdAt.toISOString(),
    readyAt: iso(v.readyAt),
    sizeBytes: v.sizeBytes,
    ...(error ? { error } : {}),
    ...(v.phase ? { phase: v.phase } : {}),
  };
}

export function templateDto(t: TemplateSummary, opts: { details: boolean }): TemplateDto {
  return { name: t.name, engine: t.engine, latest: t.latest, versions: t.versions.map((v) => versionDto(v, opts)) };
}

/** An instance for the API: with its connection only when `withConnection` (its owner or an admin, never lists). */
export function instanceDto(view: InstanceView | InstanceRecord, withConnection: boolean): InstanceDto {
  const i = 'instance' in view ? view.instance : view;
  const conn = 'instance' in view ? view.connection : null;
  return {
    id: i.id,
    name: i.name,
    owner: i.owner,
    ownerKind: parseOwner(i.owner)?.kind ?? 'api',
    template: i.template,
    templateVersion: i.versionId,
    status: i.status,
    expiresAt: iso(i.expiresAt),
    createdAt: i.createdAt.toISOString(),
    readyAt: iso(i.readyAt),
    ...(i.error ? { error: i.error } : {}),
    ...(i.status === 'retrying' ? { attempts: i.attempts, ...(i.retryAt ? { retryAt: i.retryAt.toISOString() } : {}) } : {}),
    ...(i.lastFault ? { lastFault: i.lastFault } : {}),
    connection: withConnection && conn ? ({ ...conn } satisfies ConnectionDto) : null,
  };
}

/** The owner an admin asked for: a spec, an owner key as text, or by default the instance's name. */
export function ownerFromRequest(owner: OwnerSpec | string | undefined, name: string | undefined): OwnerKey {
  if (owner === undefined) return apiOwner(name ?? 'admin');
  if (typeof owner === 'string') {
    const k = assertOwner(owner);
    if (k.kind === 'pool') throw new AppError('bad_request', 'the warm pool owns its instances itself; choose another owner');
    return k;
  }
  switch (owner.kind) {
    case 'pull':
      return pullOwner(owner.repository, owner.number);
    case 'run':
      return runOwner(owner.repository, owner.runId, owner.attempt ?? null);
    case 'api':
      return assertOwner(`api:${owner.name}`);
  }
}
