// GitHub's OpenAPI description, compiled for the few operations the local GitHub stand-in serves:
// path and query parameters, request bodies and (to check the stand-in itself) responses.
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; its module.exports also carries the plugin as `.default`, which is what NodeNext types.
const addFormats = addFormatsModule.default;

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Param { name: string; in: string; required?: boolean; check: ValidateFunction }
export interface CompiledOp<N extends string, M extends string> { name: N; method: M; template: string; re: RegExp; params: Param[]; body: ValidateFunction | null; bodyRequired: boolean; response: ValidateFunction; ok: number }

/** OpenAPI 3.0 `nullable` without `type` is not JSON Schema; ajv needs it spelled as anyOf null. */
function fixNullable(n: Json): Json {
  if (Array.isArray(n)) return n.map(fixNullable);
  if (!n || typeof n !== 'object') return n;
  const o: Json = Object.fromEntries(Object.entries(n).map(([k, v]) => [k, fixNullable(v)]));
  if (o.nullable === true && o.type === undefined) {
    delete o.nullable;
    return { anyOf: [o, { type: 'null' }] };
  }
  return o;
}

/** Compiles only our operations, with only the components they reach (the whole spec is 13 MB). */
export function compileOps<N extends string, M extends string>(spec: Json, OPS: [N, M, string, number][]): CompiledOp<N, M>[] {
  const resolve = (ref: string): Json => ref.slice(2).split('/').reduce((o: Json, k) => o[k], spec);
  const mini: Json = { components: {} };
  const walk = (n: Json): void => {
    if (!n || typeof n !== 'object') return;
    for (const [k, v] of Object.entries(n)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/')) {
        const [, , section, name] = v.split('/');
        if (mini.components[section]?.[name]) continue;
        (mini.components[section] ??= {})[name] = resolve(v);
        walk(resolve(v));
      } else walk(v);
    }
  };
  const strict = { strict: false, allErrors: true, validateSchema: false, logger: false } as const;
  const bodies = new Ajv(strict);
  const params = new Ajv({ ...strict, coerceTypes: true });
  for (const a of [bodies, params]) {
    addFormats(a);
    a.addFormat('int32', true).addFormat('int64', true);
  }
  const local = (s: Json) => JSON.parse(JSON.stringify(s).replace(/"#\/components\//g, '"gh#/components/'));
  const defs = OPS.map(([name, method, template, ok]) => ({ name, method, template, ok, def: spec.paths[template][method.toLowerCase()] }));
  defs.forEach((d) => walk(d.def));
  bodies.addSchema({ $id: 'gh', ...fixNullable(mini) });
  params.addSchema({ $id: 'gh', ...fixNullable(mini) });
  return defs.map(({ def, ...o }): CompiledOp<N, M> => {
    const rb = def.requestBody?.content?.['application/json'];
    return {
      ...o,
      re: new RegExp(`^${o.template.replace(/\{[^}]+\}/g, '([^/]+)')}$`),
      params: (def.parameters ?? []).map((p0: Json) => {
        const p = p0.$ref ? resolve(p0.$ref) : p0;
        const check = params.compile(local({ type: 'object', properties: { v: fixNullable(p.schema) } }));
        return { name: p.name, in: p.in, required: p.required, check };
      }),
      body: rb ? bodies.compile(local(fixNullable(rb.schema))) : null,
      bodyRequired: Boolean(def.requestBody?.required),
      response: bodies.compile(local(fixNullable(def.responses[String(o.ok)].content['application/json'].schema))),
    };
  });
}
