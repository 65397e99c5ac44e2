// The status page's HTML, server-rendered with hono/jsx: no script, one inline stylesheet, every
// value escaped by JSX. Shows what app/status.ts gathered; never passwords (the rows have none).
import type { Child, FC } from 'hono/jsx';
import type { FailureRow, InstanceStatusRow, StatusSnapshot, TemplateStatusRow, VersionStatusRow } from '../app/ports.js';
import { bytes, duration, ownerLink, percent, relative, utc } from './status-page-format.js';
import { CSS } from './status-page-style.js';

/** How often the page reloads itself (a meta refresh: works without JavaScript). */
export const REFRESH_SECONDS = 30;

const Layout: FC<{ title: string; refresh?: boolean; children?: Child }> = ({ title, refresh, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="referrer" content="no-referrer" />
      {refresh ? <meta http-equiv="refresh" content={String(REFRESH_SECONDS)} /> : null}
      <title>{title}</title>
      <style dangerouslySetInnerHTML={{ __html: CSS }} />
    </head>
    <body>{children}</body>
  </html>
);

export const LoginPage: FC<{ error?: string | null; tokensConfigured: boolean }> = ({ error, tokensConfigured }) => (
  <Layout title="myaas: log in">
    <form class="login" method="post" action="/login">
      <h1>myaas</h1>
      <div class="muted">Status of this controller, for admins.</div>
      <label for="token">API token</label>
      <input id="token" name="token" type="password" autocomplete="current-password" required autofocus />
      {error ? <p class="error" role="alert">{error}</p> : null}
      {tokensConfigured ? null : <p class="error">This controller has no API tokens: set MYAAS_API_TOKENS to log in.</p>}
      <button type="submit">Log in</button>
    </form>
  </Layout>
);

const Pill: FC<{ status: string }> = ({ status }) => <span class={`pill s-${status}`}>{status}</span>;

const When: FC<{ at: Date | null; now: Date }> = ({ at, now }) =>
  at ? <time datetime={at.toISOString()} title={utc(at)}>{relative(at, now)}</time> : <span class="muted">—</span>;

const Cards: FC<{ s: StatusSnapshot }> = ({ s }) => {
  const count = (st: string) => s.instances.filter((i) => i.status === st).length;
  const usedPct = s.pool ? percent(s.pool.usedBytes, s.pool.totalBytes) : 0;
  const warm = s.warmPool.byTemplate.reduce((n, t) => n + t.ready, 0);
  return (
    <div class="cards">
      <div class="card">
        <div class="label">Pool ({s.storage})</div>
        {s.pool ? (
          <>
            <div class="big">{bytes(s.pool.usedBytes)} used</div>
            {/* SVG, not a style attribute: the Content-Security-Policy allows only the stylesheet's hash */}
            <svg class={usedPct >= 90 ? 'bar high' : 'bar'} role="img" aria-label={`${usedPct}% used`}>
              <rect width={`${usedPct}%`} height="100%" />
            </svg>
            <div class="muted">{bytes(s.pool.freeBytes)} free of {bytes(s.pool.totalBytes)} · {usedPct}%</div>
          </>
        ) : (
          <div class="big muted">unknown</div>
        )}
      </div>
      <div class="card">
        <div class="label">Instances</div>
        <div class="big">{s.instances.length}</div>
        <div class="muted">{count('ready')} ready · {count('suspended')} suspended · {count('provisioning')} provisioning · {count('failed')} failed</div>
      </div>
      <div class="card">
        <div class="label">Templates</div>
        <div class="big">{s.templates.length}</div>
        <div class="muted">{s.templates.filter((t) => t.versions.some((v) => v.status === 'importing')).length} importing</div>
      </div>
      <div class="card">
        <div class="label">Warm pool</div>
        <div class="big">{s.warmPool.target > 0 ? `${warm} ready` : 'off'}</div>
        <div class="muted">{s.warmPool.target > 0 ? `target ${s.warmPool.target} per template` : 'MYAAS_WARM_POOL=0'}</div>
      </div>
    </div>
  );
};

const Version: FC<{ v: VersionStatusRow; now: Date; latest: boolean }> = ({ v, now, latest }) => (
  <li>
    <span class="mono">{v.id}</span> <Pill status={v.status} />
    {v.status === 'importing' ? (
      <span> {v.phase ?? 'starting'} · {duration(v.elapsedMs ?? 0)}</span>
    ) : (
      <span class="muted">
        {latest ? ' latest ·' : ''}
        {v.sizeBytes !== null ? ` ${bytes(v.sizeBytes)} ·` : ''} <When at={v.readyAt ?? v.createdAt} now={now} />
        {v.instances > 0 ? ` · ${v.instances} in use` : ''}
      </span>
    )}
  </li>
);

const Templates: FC<{ rows: TemplateStatusRow[]; now: Date; problems: string[] }> = ({ rows, now, problems }) => (
  <section>
    <h2>Templates</h2>
    {rows.length === 0 ? (
      <div class="empty">No templates yet: put dumps in the dumps folder and run <span class="mono">myaas import</span>.</div>
    ) : (
      <table>
        <thead>
          <tr><th>Template</th><th>Engine</th><th>Data as of</th><th class="num">Size</th><th>Versions</th></tr>
        </thead>
        <tbody>
          {rows.map((t) => (
            <tr>
              <td><strong>{t.name}</strong></td>
              <td>{t.engine}</td>
              <td><When at={t.dataAsOf} now={now} /></td>
              <td class="num">{bytes(t.sizeBytes)}</td>
              <td>
                {t.versions.length === 0 ? <span class="muted">not imported</span> : (
                  <ul class="versions">{t.versions.slice(0, 5).map((v) => <Version v={v} now={now} latest={v.id === t.latest} />)}</ul>
                )}
                {t.versions.length > 5 ? <span class="muted">and {t.versions.length - 5} older</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    )}
    {problems.map((p) => <p class="error">{p}</p>)}
  </section>
);

const Instances: FC<{ rows: InstanceStatusRow[]; now: Date; web: string }> = ({ rows, now, web }) => (
  <section>
    <h2>Instances</h2>
    {rows.length === 0 ? <div class="empty">No instances.</div> : (
      <table>
        <thead>
          <tr>
            <th>Name</th><th>Owner</th><th>Template</th><th>Status</th><th>Age</th><th>Expires</th>
            <th class="num">Memory</th><th class="num" title="bytes written since the clone / size of its data">Disk (own / data)</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((i) => {
            const o = ownerLink(i.owner, i.ownerKey, web);
            return (
              <tr>
                <td><strong>{i.name}</strong><div class="mono muted">{i.id}</div></td>
                <td>{o.href ? <a href={o.href} rel="noreferrer">{o.text}</a> : o.text}</td>
                <td>{i.template}<div class="mono muted">{i.versionId ?? '—'}</div></td>
                <td><Pill status={i.status} />{i.error ? <p class="error">{i.error}</p> : null}</td>
                <td><When at={i.createdAt} now={now} /></td>
                <td>{i.expiresAt ? <When at={i.expiresAt} now={now} /> : <span class="muted">never</span>}</td>
                <td class="num">{bytes(i.memoryBytes)}</td>
                <td class="num">{bytes(i.ownBytes)} / {bytes(i.dataBytes)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    )}
  </section>
);

const Failures: FC<{ rows: FailureRow[]; now: Date }> = ({ rows, now }) => (
  <section>
    <h2>Recent failures</h2>
    {rows.length === 0 ? <div class="empty">None.</div> : (
      <table>
        <thead><tr><th>When</th><th>What</th><th>Template</th><th>Error</th></tr></thead>
        <tbody>
          {rows.map((f) => (
            <tr>
              <td><When at={f.at} now={now} /></td>
              <td>{f.kind === 'instance' ? `instance ${f.name}` : 'import'}<div class="mono muted">{f.id}</div></td>
              <td>{f.template}</td>
              <td><pre class="error">{f.error}</pre></td>
            </tr>
          ))}
        </tbody>
      </table>
    )}
  </section>
);

export const StatusPage: FC<{ s: StatusSnapshot; githubWebUrl: string }> = ({ s, githubWebUrl }) => (
  <Layout title="myaas status" refresh>
    <header>
      <h1>myaas</h1>
      <div class="meta">
        status as of {utc(s.at)} · storage {s.storage} at <span class="mono">{s.dataDir}</span>
      </div>
      <form method="post" action="/logout"><button type="submit">Log out</button></form>
    </header>
    <main>
      <Cards s={s} />
      <Templates rows={s.templates} now={s.at} problems={s.dumpProblems} />
      <Instances rows={s.instances} now={s.at} web={githubWebUrl} />
      <Failures rows={s.failures} now={s.at} />
      <footer>
        Reloads every {REFRESH_SECONDS} s. Prometheus metrics at <span class="mono">/api/v1/metrics</span> (bearer token).
      </footer>
    </main>
  </Layout>
);
