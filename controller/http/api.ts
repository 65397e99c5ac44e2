// /api/v1 routes. Records intent through the services and shapes replies (present.ts); never touches
// Docker or storage.
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { CreateInstanceResponse, ImportResponse } from '../contract.js';
import { AppError } from '../domain/errors.js';
import { parseDuration } from '../config.js';
import { assertTemplateName } from '../domain/names.js';
import type { OwnerKey } from '../domain/owner.js';
import type { InstanceRecord } from '../domain/types.js';
import { canAccess, ownerForIdentity } from '../github/oidc.js';
import type { RepositoryGate } from '../github/repository-gate.js';
import type { InstanceService, TemplateService } from '../app/ports.js';
import type { AuthEnv, Principal } from './auth.js';
import { instanceDto, ownerFromRequest, templateDto, versionDto } from './present.js';

export interface ApiDeps {
  instances: InstanceService;
  templates: TemplateService;
  repos: Record<string, string[]>;
  /** forks and pinned repository ids */
  gate: Pick<RepositoryGate, 'admitPullRequest' | 'forget'>;
  maxWaitSeconds?: number;
}

const ownerSpec = z.union([
  z.string(),
  z.object({ kind: z.literal('pull'), repository: z.string(), number: z.number().int().positive() }),
  z.object({ kind: z.literal('run'), repository: z.string(), runId: z.string().regex(/^[0-9]+$/), attempt: z.string().regex(/^[0-9]+$/).optional() }),
  z.object({ kind: z.literal('api'), name: z.string() }),
]);

const createBody = z.object({
  template: z.string(),
  name: z.string().optional(),
  ttl: z.union([z.number().int().nonnegative(), z.string()]).optional(),
  owner: ownerSpec.optional(),
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

  api.get('/templates', async (c) => {
    const p = c.get('principal');
    const all = (await deps.templates.list()).templates;
    // A repository sees the templates configured for it; why an import failed (it may quote data) is for admins.
    if (p.kind !== 'oidc') return c.json(all.map((t) => templateDto(t, { details: true })));
    return c.json(all.filter((t) => p.templates.includes(t.name)).map((t) => templateDto(t, { details: false })));
  });

  api.post('/templates/:name/import', async (c) => {
    admin(c.get('principal'));
    const version = await deps.templates.startImport(assertTemplateName(c.req.param('name')));
    return c.json({ template: version.template, version: versionDto(version) } satisfies ImportResponse, 202);
  });

  api.delete('/templates/:name/import', async (c) => {
    admin(c.get('principal'));
    const version = await deps.templates.cancelImport(assertTemplateName(c.req.param('name')));
    return c.json({ template: version.template, version: versionDto(version) } satisfies ImportResponse, 200);
  });

  api.delete('/repositories/:owner/:repo/pin', async (c) => {
    admin(c.get('principal'));
    const name = `${c.req.param('owner')}/${c.req.param('repo')}`.toLowerCase();
    if (!(await deps.gate.forget(name))) throw new AppError('not_found', `no pinned repository ${name}`);
    return c.json({ repository: name, pinned: false });
  });

  api.get('/instances', async (c) => {
    const p = c.get('principal');
    if (p.kind === 'metrics') throw new AppError('forbidden', 'a metrics token reads /api/v1/metrics and nothing else');
    const list = await deps.instances.list(p.kind === 'admin' ? {} : { owner: ownerForIdentity(p.identity, deps.repos) });
    return c.json(list.map((i) => instanceDto(i, false)));
  });

  api.post('/instances', async (c) => {
    const p = c.get('principal');
    if (p.kind === 'metrics') throw new AppError('forbidden', 'a metrics token reads /api/v1/metrics and nothing else');
    const body = createBody.parse(await c.req.json());
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
    const r = await deps.instances.create({ owner, template, name: body.name, ttlSeconds, trusted: p.kind === 'admin' });
    const i = await settle(c, r.instance);
    const dto: CreateInstanceResponse = { ...(await withConnection(i)), created: r.created };
    return c.json(dto, r.created ? 201 : 200);
  });

  api.get('/instances/:id', async (c) => {
    const i = await visible(c.get('principal'), c.req.param('id'));
    return c.json(await withConnection(await settle(c, i)));
  });

  api.post('/instances/:id/reset', async (c) => {
    const i = await visible(c.get('principal'), c.req.param('id'));
    const r = await deps.instances.reset(i.id);
    return c.json(await withConnection(await settle(c, r)), 202);
  });

  api.delete('/instances/:id', async (c) => {
    const i = await visible(c.get('principal'), c.req.param('id'));
    const r = await settle(c, await deps.instances.destroy(i.id));
    return c.json(instanceDto(r, false), r.status === 'destroyed' ? 200 : 202);
  });

  return api;
}
