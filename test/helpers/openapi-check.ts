// Checks replies against the controller's own OpenAPI document (GET /api/v1/openapi.json): the status
// must be one the operation declares, and the body must match that status's schema for its content
// type. OpenAPI 3.1 schemas are JSON Schema 2020-12, so ajv's 2020 dialect compiles them as they are.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; NodeNext types see the plugin as `.default`.
const addFormats = addFormatsModule.default;

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Reply {
  method: string;
  /** path with its query, e.g. /api/v1/instances?limit=5 */
  path: string;
  status: number;
  contentType: string | null;
  /** the parsed JSON, or the text for other content types */
  body: unknown;
}

export interface SpecChecker {
  /** What is wrong with `reply` by the document; empty when it conforms. */
  check(reply: Reply): string[];
  /** operationIds of the operations `check` has seen answer, with the statuses seen */
  seen: Map<string, Set<number>>;
}

interface Op {
  id: string;
  method: string;
  template: string;
  re: RegExp;
  responses: Record<string, Json>;
}

/** Paths the document must cover: a reply from any other (the status page) is not checked. */
const COVERED = /^\/api\/v1(\/|$)|^\/healthz$/;

export function createSpecChecker(doc: Json): SpecChecker {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'spec', components: doc.components ?? {} });
  const local = (s: Json) => JSON.parse(JSON.stringify(s).replace(/"#\/components\//g, '"spec#/components/'));
  const ops: Op[] = [];
  for (const [template, item] of Object.entries<Json>(doc.paths ?? {})) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
      const op = item[method];
      if (!op) continue;
      const re = new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`);
      ops.push({ id: op.operationId ?? `${method} ${template}`, method: method.toUpperCase(), template, re, responses: op.responses ?? {} });
    }
  }
  // Literal paths before templated ones, so /instances is never taken for /instances/{id}.
  ops.sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));
  const compiled = new Map<string, ValidateFunction>();
  const seen = new Map<string, Set<number>>();

  function check(r: Reply): string[] {
    const path = r.path.split('?')[0];
    if (!COVERED.test(path)) return [];
    const what = `${r.method} ${r.path} → ${r.status}`;
    const op = ops.find((o) => o.method === r.method.toUpperCase() && o.re.test(path));
    if (!op) {
      // The app's answer to a route it does not have is documented by the error shape alone.
      const err = compiledFor('notFound', { $ref: '#/components/schemas/Error' });
      return r.status === 404 && err(r.body) ? [] : [`${what}: no operation in the document for ${r.method} ${path}`];
    }
    if (!seen.has(op.id)) seen.set(op.id, new Set());
    seen.get(op.id)!.add(r.status);
    const res = op.responses[String(r.status)] ?? op.responses[`${String(r.status)[0]}XX`] ?? op.responses.default;
    if (!res) return [`${what}: status ${r.status} is not among ${op.id}'s documented replies (${Object.keys(op.responses).join(', ')})`];
    if (!res.content) return r.body === null || r.body === '' ? [] : [`${what}: ${op.id} documents no body for ${r.status}`];
    const type = (r.contentType ?? '').split(';')[0].trim().toLowerCase();
    const media = res.content[type];
    if (!media) return [`${what}: content type ${JSON.stringify(type)} is not among ${Object.keys(res.content).join(', ')}`];
    if (!media.schema) return [];
    const validate = compiledFor(`${op.id} ${r.status} ${type}`, media.schema);
    if (validate(r.body)) return [];
    return (validate.errors ?? []).map((e) => `${what}: body${e.instancePath} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
  }

  function compiledFor(key: string, schema: Json): ValidateFunction {
    let v = compiled.get(key);
    if (!v) compiled.set(key, (v = ajv.compile(local(schema))));
    return v;
  }

  return { check, seen };
}
