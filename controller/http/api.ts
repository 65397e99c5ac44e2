// /api/v1 routes. Records intent through the services and shapes replies (present.ts); never touches
// Docker or storage. What each route takes and answers is described in routes.ts (the OpenAPI document).
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { CreateInstanceResponse, ImportResponse, SchemaDiffResponse } from '../contract.js';
import { AppError } from '../domain/errors.js';
import { parseDuration } from '../config.js';
import { assertTemplateName, baseTemplate } from '../domain/names.js';
import { formatOwner, type OwnerKey } from '../domain/owner.js';
import type { InstanceRecord } from '../domain/types.js';
import { canAccess, ownerForIdentity } from '../github/oidc.js';
import type { RepositoryGate } from '../github/repository-gate.js';
import type { InstanceService, TemplateService } from '../app/ports.js';
import type { AuthEnv, Principal } from './auth.js';
import { readingBodyItself, rethrowInvalid } from './openapi.js';
import { nextLink, pageQuery } from './paging.js';
import { instanceDto, ownerFromRequest, templateDto, versionDto } from './present.js';
import * as routes from './routes.js';
import { CreateInstanceSchema } from './schemas.js';

export interface ApiDeps {
  instances: InstanceService;
  templates: TemplateService;
  repos: Record<string, string[]>;
  /** `owner/repo` → template → the version its instances get (MYAAS_GITHUB_REPOS `template@version`) */
  versionPins?: Record<string, Record<string, string>>;
  /** forks and pinned repository ids */
  gate: Pick<RepositoryGate, 'admitPullRequest' | 'forget'>;
  maxWaitSeconds?: number;
}

export function createApi(deps: ApiDeps) {
  const api = new OpenAPIHono<AuthEnv>({ defaultHook: rethrowInvalid });
  const maxWait = deps.maxWaitSeconds ?? 600;

  const waitSeconds = (c: Context): number => {
    const w = c.req.query('wait');
    if (w === undefined) return 0;
    if (w === '' || w === 'true') return 60;
    const n = Number(w);
    if (!Number.isFinite(n) || n < 0) throw new AppError('bad_request', `wait must be a number of seconds, got ${JSON.stringify(w)}`);
    return Math.min(n, maxWait);
  };
  const admin = (p: Principal) => {
    if (p.kind !== 'admin') throw new AppError('forbidden', 'this needs an admin API token (MYAAS_API_TOKENS)');
  };
  /** The instance, if the caller may see it; others' instances are reported missing. */
  const visible = async (p: Principal, id: string): Promise<InstanceRecord> => {
    if (p.kind === 'metrics') throw new AppError('forbidden', 'a metrics token reads /api/v1/metrics and nothing else');
    const i = await deps.instances.get(id);
    if (p.kind === 'oidc' && !canAccess(ownerForIdentity(p.identity, deps.repos), i.owner)) {
      throw new AppError('not_found', `no instance ${JSON.stringify(id)} for ${p.identity.repository} (${p.identity.ref})`);
    }
    return i;
  };
  const settle = async (c: Context, i: InstanceRecord) => {
    const w = waitSeconds(c);
    return w > 0 ? deps.instances.waitSettled(i.id, w * 1000) : i;
  };
  const withConnection = async (i: InstanceRecord) => instanceDto(await deps.instances.view(i), true);

  api.openapi(routes.listTemplates, async (c) => {
    const p = c.get('principal');
    const all = (await deps.templates.list()).templates;
    // A repository sees the templates configured for it; why an import failed (it may quote data) is for admins.
    if (p.kind !== 'oidc') return c.json(all.map((t) => templateDto(t, { details: true })), 200);
    return c.json(all.filter((t) => p.templates.includes(baseTemplate(t.name))).map((t) => templateDto(t, { details: false })), 200);
  });

  api.openapi(routes.startImport, async (c) => {
    admin(c.get('principal'));
    const version = await deps.templates.startImport(assertTemplateName(c.req.valid('param').name));
    return c.json({ template: version.template, version: versionDto(version) } satisfies ImportResponse, 202);
  });

  api.openapi(routes.cancelImport, async (c) => {
    admin(c.get('principal'));
    const version = await deps.templates.cancelImport(assertTemplateName(c.req.valid('param').name));
    return c.json({ template: version.template, version: versionDto(version) } satisfies ImportResponse, 200);
  });

  api.openapi(routes.unpinRepository, async (c) => {
    admin(c.get('principal'));
    const name = `${c.req.valid('param').owner}/${c.req.valid('param').repo}`.toLowerCase();
    if (!(await deps.gate.forget(name))) throw new AppError('not_found', `no pinned repository ${name}`);
    return c.json({ repository: name, pinned: false as const }, 200);
  });

  api.openapi(routes.listInstances, async (c) => {
    const p = c.get('principal');
    if (p.kind === 'metrics') throw new AppError('forbidden', 'a metrics token reads /api/v1/metrics and nothing else');
    const q = pageQuery(c.req.valid('query'));
    if (p.kind === 'oidc') {
      // A repository's token sees its own owner's instances, whatever it asks for.
      const own = formatOwner(ownerForIdentity(p.identity, deps.repos));
      q.owners = q.owners ? q.owners.filter((o) => o === own) : [own];
    }
    const { items, more } = await deps.instances.page(q);
    const last = items[items.length - 1];
    if (more && last) c.header('link', nextLink(c.req.url, last));
    return c.json(items.map((i) => instanceDto(i, false)), 200);
  });

  api.openapi(readingBodyItself(api, routes.createInstance), async (c) => {
    const p = c.get('principal');
    if (p.kind === 'metrics') throw new AppError('forbidden', 'a metrics token reads /api/v1/metrics and nothing else');
    const body = CreateInstanceSchema.parse(await c.req.json());
    const template = assertTemplateName(body.template);
    let owner: OwnerKey;
    if (p.kind === 'oidc') {
      if (body.owner) throw new AppError('forbidden', 'an OIDC token cannot choose the owner: it comes from the token');
      // Names of pull-request and run instances are derived from their owner: a token choosing one could
      // take the name another owner's instance will need.
      if (body.name !== undefined) throw new AppError('forbidden', 'an OIDC token cannot choose the instance name: it is derived from the pull request or run');
      owner = ownerForIdentity(p.identity, deps.repos, template);
      await deps.gate.admitPullRequest(owner);
    } else {
      owner = ownerFromRequest(body.owner, body.name);
    }
    let ttlSeconds: number | undefined;
    try {
      ttlSeconds = body.ttl === undefined ? undefined : parseDuration(body.ttl);
    } catch (e) {
      throw new AppError('bad_request', (e as Error).message);
    }
    const repo = owner.kind === 'pull' || owner.kind === 'run' ? owner.repo : null;
    const pinnedVersionId = p.kind === 'oidc' && repo ? deps.versionPins?.[repo]?.[template] : undefined;
    const r = await deps.instances.create({ owner, template, name: body.name, ttlSeconds, trusted: p.kind === 'admin', pinnedVersionId });
    const i = await settle(c, r.instance);
    const dto: CreateInstanceResponse = { ...(await withConnection(i)), created: r.created };
    return c.json(dto, r.created ? 201 : 200);
  });

  api.openapi(routes.getInstance, async (c) => {
    const i = await visible(c.get('principal'), c.req.valid('param').id);
    return c.json(await withConnection(await settle(c, i)), 200);
  });

  api.openapi(routes.resetInstance, async (c) => {
    const i = await visible(c.get('principal'), c.req.valid('param').id);
    const r = await deps.instances.reset(i.id);
    return c.json(await withConnection(await settle(c, r)), 202);
  });

  api.openapi(routes.schemaDiff, async (c) => {
    const i = await visible(c.get('principal'), c.req.valid('param').id);
    const r = await deps.instances.schemaDiff(i.id);
    return c.json({
      instance: i.id,
      summary: r.summary,
      markdown: r.markdown,
      warnings: r.diff.warnings.length,
      at: r.at.toISOString(),
      diff: r.diff,
    } satisfies SchemaDiffResponse, 200);
  });

  api.openapi(routes.destroyInstance, async (c) => {
    const i = await visible(c.get('principal'), c.req.valid('param').id);
    const r = await settle(c, await deps.instances.destroy(i.id));
    return c.json(instanceDto(r, false), r.status === 'destroyed' ? 200 : 202);
  });

  return api;
}
