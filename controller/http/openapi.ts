// The OpenAPI document, made from the routes the app serves (routes.ts), at GET /api/v1/openapi.json,
// and the same as a web page at GET /api/v1/docs. Neither needs a token: they describe, never reveal.
import type { OpenAPIHono, RouteConfig } from '@hono/zod-openapi';
import { createHash } from 'node:crypto';
import { renderApiDocs, API_DOCS_CSS } from './api-docs.js';
import { apiDocs, openApiDocument, SECURITY } from './routes.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyApp = OpenAPIHono<any, any, any>;
export type OpenApiDocument = ReturnType<AnyApp['getOpenAPI31Document']>;

/**
 * Validation failures of paths and queries leave through the app's error handler, as every other
 * failure does: `{ error: { code: 'bad_request', message } }` with status 400.
 */
export const rethrowInvalid = (result: { success: true } | { success: false; error: unknown }): undefined => {
  if (!result.success) throw result.error;
  return undefined;
};

/**
 * Puts `route` in the document with its whole request, and returns it for `app.openapi()` without
 * its body and headers: those the handler reads itself, so that a bad body or a missing header
 * answers as it always did (400 with our error shape, whatever the content type) rather than with
 * the validator's 415 or its own words.
 */
export function readingBodyItself<R extends RouteConfig>(app: AnyApp, route: R): R {
  app.openAPIRegistry.registerPath(route);
  const { body: _body, headers: _headers, ...request } = route.request ?? {};
  return { ...route, request, hide: true };
}

/** Puts `route` in the document; its handler is a plain Hono handler that builds its own Response. */
export function describeOnly(app: AnyApp, route: RouteConfig): void {
  app.openAPIRegistry.registerPath(route);
}

const TAGS = [
  { name: 'instances', description: 'Databases cloned from a template version, one per owner and template.' },
  { name: 'templates', description: 'Named data sets, imported from dumps into read-only versions.' },
  { name: 'repositories', description: 'What the controller remembers of GitHub repositories.' },
  { name: 'operations', description: 'Health, metrics and this description.' },
  { name: 'github', description: 'Deliveries from GitHub.' },
];

/** The document of everything registered on `app` (call once every route is mounted). */
export function buildDocument(app: AnyApp, controllerVersion: string): OpenApiDocument {
  return app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'myaas controller API',
      version: '1',
      description:
        'Fresh copy-on-write database instances per pull request. All JSON; errors are `{ "error": { "code", "message" } }` ' +
        `with a fitting status. Controller ${controllerVersion}.`,
    },
    tags: TAGS,
  });
}

const DOCS_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(API_DOCS_CSS).digest('base64')}'; frame-ancestors 'none'; base-uri 'none'`;

/**
 * Serves the document and its page. Register before the authenticated /api/v1 routes: Hono runs
 * handlers in the order they were added, so these answer before the auth middleware is reached.
 */
export function serveDocument(app: AnyApp, controllerVersion: string): void {
  for (const [name, scheme] of Object.entries(SECURITY)) app.openAPIRegistry.registerComponent('securitySchemes', name, scheme);
  describeOnly(app, openApiDocument);
  describeOnly(app, apiDocs);
  // Made on first use, when every route is in the registry; the routes do not change afterwards.
  let doc: OpenApiDocument | null = null;
  let page: string | null = null;
  const document = () => (doc ??= buildDocument(app, controllerVersion));
  app.get('/api/v1/openapi.json', (c) => c.json(document()));
  app.get('/api/v1/docs', async (c) => {
    page ??= await renderApiDocs(document());
    c.header('content-security-policy', DOCS_CSP);
    c.header('x-content-type-options', 'nosniff');
    return c.html(page);
  });
}
