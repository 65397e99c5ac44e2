// Docker's legacy volume plugin protocol (docs/extend/plugins_volume.md in docker/cli): JSON POSTs
// to /Plugin.Activate and /VolumeDriver.*, each answered 200 with `Err` set to a message on failure,
// which Docker shows to the user as it is.
import { Hono, type Context } from 'hono';
import { isAppError, messageOf } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import type { VolumeInfo, VolumeStore } from './volumes.js';

const CONTENT_TYPE = 'application/vnd.docker.plugins.v1+json';

interface Request {
  Name?: unknown;
  Opts?: unknown;
  ID?: unknown;
}

/** What Docker shows in `docker volume inspect` under Status. */
function status(v: VolumeInfo): Record<string, unknown> {
  return { template: v.template, version: v.version, limitBytes: v.limitBytes, status: v.status, mounts: v.mounts };
}

export function createPluginApp(store: VolumeStore, log: Logger): Hono {
  const app = new Hono();

  const reply = (c: Context, body: unknown) => c.body(JSON.stringify(body), 200, { 'content-type': CONTENT_TYPE });

  /** Parses the body (Docker sends JSON, sometimes with no body at all), runs fn, maps failures to Err. */
  function route(path: string, fn: (req: Request) => Promise<Record<string, unknown>>) {
    app.post(path, async (c) => {
      const text = await c.req.text();
      let req: Request = {};
      try {
        req = text.trim() ? (JSON.parse(text) as Request) : {};
      } catch {
        return reply(c, { Err: `${path}: the request body is not JSON` });
      }
      try {
        return reply(c, { Err: '', ...(await fn(req ?? {})) });
      } catch (e) {
        // Docker asks Get for every name before it creates one: "not found" is routine.
        const level = isAppError(e) && e.code === 'not_found' ? 'debug' : 'warn';
        log[level]({ call: path, volume: typeof req?.Name === 'string' ? req.Name : undefined, err: messageOf(e) }, 'volume call refused');
        return reply(c, { Err: messageOf(e) });
      }
    });
  }

  const name = (req: Request) => String(req.Name ?? '');

  app.post('/Plugin.Activate', (c) => reply(c, { Implements: ['VolumeDriver'] }));
  route('/VolumeDriver.Capabilities', async () => ({ Capabilities: { Scope: 'local' } }));
  route('/VolumeDriver.Create', async (req) => {
    const opts = req.Opts && typeof req.Opts === 'object' ? (req.Opts as Record<string, unknown>) : {};
    await store.create(name(req), opts);
    return {};
  });
  route('/VolumeDriver.Remove', async (req) => {
    await store.remove(name(req));
    return {};
  });
  route('/VolumeDriver.Mount', async (req) => ({ Mountpoint: await store.mount(name(req), String(req.ID ?? '')) }));
  route('/VolumeDriver.Unmount', async (req) => {
    await store.unmount(name(req), String(req.ID ?? ''));
    return {};
  });
  route('/VolumeDriver.Path', async (req) => ({ Mountpoint: await store.path(name(req)) }));
  route('/VolumeDriver.Get', async (req) => {
    const v = await store.get(name(req));
    return { Volume: { Name: v.name, Mountpoint: v.mountpoint, CreatedAt: v.createdAt, Status: status(v) } };
  });
  route('/VolumeDriver.List', async () => ({
    Volumes: (await store.list()).map((v) => ({ Name: v.name, Mountpoint: v.mountpoint, CreatedAt: v.createdAt })),
  }));
  app.notFound((c) => c.body(JSON.stringify({ Err: `${c.req.path} is not part of the volume plugin protocol` }), 404, { 'content-type': CONTENT_TYPE }));
  return app;
}
