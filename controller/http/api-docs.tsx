// GET /api/v1/docs: the OpenAPI document as a page, rendered here from the document itself with
// hono/jsx. No script and nothing fetched from elsewhere (a hosted reference viewer would need a CDN
// this controller's network may not reach); every value is escaped by JSX.
import type { Child, FC } from 'hono/jsx';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export const API_DOCS_CSS = `
body { margin: 0 auto; max-width: 1100px; padding: 16px 24px 48px; color: #1f2328;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
h1 { font-size: 22px; margin: 8px 0; } h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid #d1d9e0; }
h3 { font-size: 15px; margin: 24px 0 4px; } h4 { font-size: 13px; margin: 12px 0 4px; color: #59636e; }
code, .path { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
.method { display: inline-block; min-width: 56px; padding: 1px 6px; margin-right: 8px; border-radius: 4px; color: #fff;
  font: 600 12px ui-monospace, monospace; text-align: center; text-transform: uppercase; }
.get { background: #0969da; } .post { background: #1a7f37; } .delete { background: #cf222e; } .put, .patch { background: #9a6700; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid #d1d9e0; padding: 4px 8px; }
th { font-size: 12px; color: #59636e; font-weight: 600; }
.muted { color: #59636e; } .req { color: #cf222e; } section.op { border-top: 1px solid #eef1f4; }
ul.toc { list-style: none; padding: 0; columns: 2; } ul.toc li { margin: 2px 0; }
`;

const refName = (ref: string) => ref.split('/').pop() ?? ref;
const SchemaLink: FC<{ name: string }> = ({ name }) => <a href={`#schema-${name}`}>{name}</a>;

/** A schema in a few words: a link for a reference, `a | b` for unions, the type with its format. */
function typeOf(s: Json): Child {
  if (!s || typeof s !== 'object') return 'any';
  if (s.$ref) return <SchemaLink name={refName(s.$ref)} />;
  const variants = s.anyOf ?? s.oneOf;
  if (variants) return joined(variants.map(typeOf), ' | ');
  if (s.allOf) return joined(s.allOf.map(typeOf), ' & ');
  if (s.const !== undefined) return <code>{JSON.stringify(s.const)}</code>;
  if (s.enum) return joined(s.enum.map((v: unknown) => <code>{JSON.stringify(v)}</code>), ' | ');
  const types: string[] = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  const one = (t: string): Child => {
    if (t === 'array') return <>array of {typeOf(s.items)}</>;
    if (t === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') return <>object of {typeOf(s.additionalProperties)}</>;
    return s.format && t !== 'null' ? `${t} (${s.format})` : t;
  };
  return types.length ? joined(types.map(one), ' | ') : 'any';
}

/** Descriptions are CommonMark; of it, only `code` spans are used here. */
function text(s: string | undefined): Child {
  return (s ?? '').split('`').map((part, i) => (i % 2 ? <code>{part}</code> : part));
}

function joined(parts: Child[], sep: string): Child {
  return parts.flatMap((p, i) => (i ? [sep, p] : [p]));
}

/** Limits a schema states besides its type: ranges and patterns. */
function limits(s: Json): string {
  const out: string[] = [];
  if (s?.minimum !== undefined) out.push(`≥ ${s.minimum}`);
  if (s?.exclusiveMinimum !== undefined) out.push(`> ${s.exclusiveMinimum}`);
  if (s?.maximum !== undefined) out.push(`≤ ${s.maximum}`);
  if (s?.pattern) out.push(`matches ${s.pattern}`);
  return out.join(', ');
}

const Properties: FC<{ schema: Json }> = ({ schema }) => {
  const required: string[] = schema.required ?? [];
  return (
    <table>
      <tr><th>field</th><th>type</th><th>description</th></tr>
      {Object.entries<Json>(schema.properties ?? {}).map(([name, p]) => (
        <tr>
          <td><code>{name}</code>{required.includes(name) ? <span class="req"> *</span> : null}</td>
          <td>{typeOf(p)} <span class="muted">{limits(p)}</span></td>
          <td>{text(p.description)}</td>
        </tr>
      ))}
    </table>
  );
};

const Operation: FC<{ method: string; path: string; op: Json; schemes: Json }> = ({ method, path, op, schemes }) => (
  <section class="op" id={`op-${op.operationId}`}>
    <h3><span class={`method ${method}`}>{method}</span><span class="path">{path}</span></h3>
    <p>{text(op.summary)}{op.description ? <><br /><span class="muted">{text(op.description)}</span></> : null}</p>
    <p class="muted">
      Auth: {op.security?.length ? joined(op.security.map((r: Json) => Object.keys(r).map((k) => schemes[k]?.label ?? k).join(' + ')), ' or ') : 'none'}
    </p>
    {op.parameters?.length ? (
      <>
        <h4>Parameters</h4>
        <table>
          <tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>
          {op.parameters.map((p: Json) => (
            <tr>
              <td><code>{p.name}</code>{p.required ? <span class="req"> *</span> : null}</td>
              <td>{p.in}</td>
              <td>{typeOf(p.schema)} <span class="muted">{limits(p.schema)}</span></td>
              <td>{text(p.description)}</td>
            </tr>
          ))}
        </table>
      </>
    ) : null}
    {op.requestBody ? (
      <>
        <h4>Body{op.requestBody.required ? ' (required)' : ''}</h4>
        {Object.entries<Json>(op.requestBody.content ?? {}).map(([type, m]) => <p><code>{type}</code>: {typeOf(m.schema)}</p>)}
      </>
    ) : null}
    <h4>Replies</h4>
    <table>
      <tr><th>status</th><th>body</th><th>meaning</th></tr>
      {Object.entries<Json>(op.responses ?? {}).map(([status, r]) => (
        <tr>
          <td><code>{status}</code></td>
          <td>{joined(Object.entries<Json>(r.content ?? {}).map(([type, m]) => <>{typeOf(m.schema)} <span class="muted">{type}</span></>), ', ')}</td>
          <td>{text(r.description)}{r.headers ? joined(Object.entries<Json>(r.headers).map(([h, d]) => <><br /><code>{h}</code>: {text(d.description)}</>), '') : null}</td>
        </tr>
      ))}
    </table>
  </section>
);

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

const Page: FC<{ doc: Json }> = ({ doc }) => {
  const ops = Object.entries<Json>(doc.paths ?? {}).flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((m) => ({ path, method: m, op: item[m] })));
  const tags: Json[] = doc.tags ?? [];
  const schemes = Object.fromEntries(
    Object.entries<Json>(doc.components?.securitySchemes ?? {}).map(([k, v]) => [k, { ...v, label: k.replace(/([A-Z])/g, ' $1').toLowerCase() }]),
  );
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{doc.info.title}</title>
        <style dangerouslySetInnerHTML={{ __html: API_DOCS_CSS }} />
      </head>
      <body>
        <h1>{doc.info.title} <span class="muted">v{doc.info.version}</span></h1>
        <p>{text(doc.info.description)}</p>
        <p>Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI {doc.openapi}).</p>
        <h2>Authentication</h2>
        <table>
          {Object.entries<Json>(schemes).map(([, s]) => (
            <tr><td>{s.label}</td><td><code>{s.type === 'http' ? 'Authorization: Bearer …' : `${s.name}: … (${s.in})`}</code></td><td>{text(s.description)}</td></tr>
          ))}
        </table>
        <h2>Operations</h2>
        <ul class="toc">
          {ops.map(({ path, method, op }) => (
            <li><a href={`#op-${op.operationId}`}><span class={`method ${method}`}>{method}</span><span class="path">{path}</span></a></li>
          ))}
        </ul>
        {tags.map((t) => (
          <>
            <h2 id={`tag-${t.name}`}>{t.name}</h2>
            <p class="muted">{text(t.description)}</p>
            {ops.filter(({ op }) => op.tags?.includes(t.name)).map((o) => <Operation {...o} schemes={schemes} />)}
          </>
        ))}
        <h2>Schemas</h2>
        {Object.entries<Json>(doc.components?.schemas ?? {}).map(([name, s]) => (
          <section id={`schema-${name}`}>
            <h3>{name}</h3>
            {s.description ? <p class="muted">{text(s.description)}</p> : null}
            {s.properties ? <Properties schema={s} /> : <p>{typeOf(s)}</p>}
          </section>
        ))}
      </body>
    </html>
  );
};

export async function renderApiDocs(doc: Json): Promise<string> {
  return `<!DOCTYPE html>${await (<Page doc={doc} />)}`;
}
