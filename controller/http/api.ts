// /api/v1 routes. Records intent and asks the reconciler to converge; never touches Docker or storage.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { parseDuration } from '../config.js';
import { AppError } from '../domain/errors.js';
import { assertTemplateName } from '../domain/names.js';
import type { InstanceRecord } from '../domain/types.js';
import { canAccess, ownerForIdentity } from '../github/oidc.js';
import type { Importer } from '../jobs/importer.js';
import type { InstanceService } from '../jobs/instance-service.js';
import { versionDto, type createTemplateService } from '../jobs/template-service.js';
import type { AuthEnv, Principal } from './auth.js';
import type { CreateInstanceResponse, ImportResponse } from './contract.js';

export interface ApiDeps {
  instances: InstanceService;
  templates: ReturnType<typeof createTemplateService>;
  importer: Pick<Importer, 'start'>;
  repos: Record<string, string[]>;
  maxWaitSeconds?: number;
}

const createBody = z.object({
  template: z.string(),
  name: z.string().optional(),
  ttl: z.union([z.number().int().nonnegative(), z.string()]).optional(),
  owner: z.string().optional(),
});

export function createApi(deps: ApiDeps) {
  const api = new Hono<AuthEnv>();
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

  api.get('/templates', async (c) => c.json((await deps.templates.list()).templates));

  api.post('/templates/:name/import', async (c) => {
    admin(c.get('principal'));
    const { version } = await deps.importer.start(assertTemplateName(c.req.param('name')));
    return c.json({ template: version.template, version: versionDto(version) } satisfies ImportResponse, 202);
  });

  api.get('/instances', async (c) => {
    const p = c.get('principal');
    const list = p.kind === 'admin' ? await deps.instances.list() : (await deps.instances.list(ownerForIdentity(p.identity, deps.repos))).filter((i) => canAccess(ownerForIdentity(p.identity, deps.repos), i.owner));
    return c.json(await Promise.all(list.map((i) => deps.instances.dto(i, false))));
  });

  api.post('/instances', async (c) => {
    const p = c.get('principal');
    const body = createBody.parse(await c.req.json());
    const template = assertTemplateName(body.template);
    let owner: string;
    if (p.kind === 'oidc') {
      if (body.owner) throw new AppError('forbidden', 'an OIDC token cannot choose the owner: it comes from the token');
      owner = ownerForIdentity(p.identity, deps.repos, template);
    } else {
      owner = body.owner ?? (body.name ? `api:${body.name}` : 'api:admin');
    }
    let ttlSeconds: number | undefined;
    try {
      ttlSeconds = body.ttl === undefined ? undefined : parseDuration(body.ttl);
    } catch (e) {
      throw new AppError('bad_request', (e as Error).message);
    }
    const r = await deps.instances.create({ owner, template, name: body.name, ttlSeconds });
    const i = await settle(c, r.instance);
    const dto: CreateInstanceResponse = { ...(await deps.instances.dto(i, true)), created: r.created };
    return c.json(dto, r.created ? 201 : 200);
  });

  api.get('/instances/:id', async (c) => {
    const i = await visible(c.get('principal'), c.req.param('id'));
    return c.json(await deps.instances.dto(await settle(c, i), true));
  });

  api.post('/instances/:id/reset', async (c) => {
    const i = await visible(c.get('principal'), c.req.param('id'));
    const r = await deps.instances.reset(i.id);
    return c.json(await deps.instances.dto(await settle(c, r), true), 202);
  });

  api.delete('/instances/:id', async (c) => {
    const i = await visible(c.get('principal'), c.req.param('id'));
    const r = await settle(c, await deps.instances.destroy(i.id));
    return c.json(await deps.instances.dto(r, false), r.status === 'destroyed' ? 200 : 202);
  });

  return api;
}
