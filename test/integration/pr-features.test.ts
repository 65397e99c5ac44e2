// In the pull request, on a real controller (Docker, btrfs, both engines) with signed example webhooks
// and the OpenAPI-checked GitHub stand-in: masked data, the schema-only variant, the schema diff of a
// pull request's migrations in its comment (both engines, the drop flagged), ChatOps from an allowed
// author and from someone else, and a screenshot of the rendered comment for the README.
import { randomUUID } from 'node:crypto';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { marked } from 'marked';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMENT_MARKER } from '../../controller/github/comment.js';
import { issueCommentPayload } from '../helpers/chatops-fixtures.js';
import { addChinookDumps, importAndWait, startTestController, wipe, type TestController } from '../helpers/controller.js';
import { startFakeGitHub, type FakeGitHub } from '../helpers/fake-github.js';
import { mariadb, POOLS, psql, requireDocker, requirePool, until } from '../helpers/testbed.js';
import { pullRequestPayload, webhookRequest } from '../helpers/webhook-fixtures.js';

const SECRET = `whsec-${randomUUID()}`;
const GH_TOKEN = `ghp_${randomUUID().replace(/-/g, '')}`;
const REPO = 'octo/app';
const SCREENSHOT = fileURLToPath(new URL('../../docs/pr-comment.png', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';

describe('in the pull request', () => {
  let t: TestController;
  let gh: FakeGitHub;
  const hook = (event: string, payload: unknown) => fetch(`${t.url}/api/v1/webhooks/github`, webhookRequest(event, payload, { secret: SECRET }));
  const live = async (owner: string) => ((await t.api('GET', '/api/v1/instances')).body as any[]).filter((i) => i.owner === owner);
  const full = async (id: string) => (await t.api('GET', `/api/v1/instances/${id}`)).body;
  const theComment = () => gh.comments(REPO, 5).find((c) => c.body.startsWith(COMMENT_MARKER) && c.user === 'myaas-user');

  beforeAll(async () => {
    await requireDocker();
    requirePool(POOLS.btrfs, 'btrfs');
    gh = await startFakeGitHub({ tokens: [GH_TOKEN] });
    gh.seedPull(REPO, { number: 5 });
    t = await startTestController({
      dataDir: join(POOLS.btrfs, `it-prfeatures-${process.pid}`),
      env: {
        MYAAS_GITHUB_WEBHOOK_SECRET: SECRET, MYAAS_GITHUB_TOKEN: GH_TOKEN, MYAAS_GITHUB_API_URL: gh.url,
        MYAAS_GITHUB_REPOS: `${REPO}=chinook+chinook-my`, MYAAS_GITHUB_SWEEP_INTERVAL: '3600',
      },
    });
    await addChinookDumps(t.dumpsDir);
    // Masking rules next to the PostgreSQL dump; the MariaDB one stays unmasked, to compare with.
    await writeFile(join(t.dumpsDir, 'postgres', 'chinook.mask.json'), JSON.stringify({ salt: 's3', columns: { 'customer.email': 'email', 'customer.first_name': 'name' } }));
    const [pg, my] = await Promise.all([importAndWait(t, 'chinook'), importAndWait(t, 'chinook-my')]);
    expect(pg.status, pg.error).toBe('ready');
    expect(my.status, my.error).toBe('ready');
  });
  afterAll(async () => {
    if (t) await wipe(t);
    await gh?.close();
  });

  it('masks every configured column, deterministically, and nothing else', async () => {
    const pg = (await t.api('POST', '/api/v1/instances?wait=120', { template: 'chinook', name: 'masked' })).body;
    const my = (await t.api('POST', '/api/v1/instances?wait=120', { template: 'chinook-my', name: 'plain' })).body;
    expect([pg.status, my.status]).toEqual(['ready', 'ready']);
    const q = 'select customer_id, first_name, last_name, email from customer order by customer_id';
    const masked = (await psql(pg.connection.url, q)).split('\n').map((l) => l.split('|'));
    const plain = (await mariadb(my.connection.url, 'select CustomerId, FirstName, LastName, Email from Customer order by CustomerId')).split('\n').map((l) => l.split('\t'));
    expect(masked).toHaveLength(59);
    for (let r = 0; r < masked.length; r++) {
      expect(masked[r][0]).toBe(plain[r][0]);
      expect(masked[r][2]).toBe(plain[r][2]); // last name: not configured, unchanged
      expect(masked[r][3]).not.toBe(plain[r][3]); // email: masked
      expect(masked[r][3]).toMatch(/@/);
    }
    // Deterministic: the same input gives the same output, so joins on a masked value still match.
    expect(await psql(pg.connection.url, "select count(*) from customer c join customer d on c.email = d.email")).toBe('59');
    await t.api('DELETE', `/api/v1/instances/${pg.id}`);
    await t.api('DELETE', `/api/v1/instances/${my.id}`);
  });

  it('offers <template>:schema: the same tables, no rows', async () => {
    const s = (await t.api('POST', '/api/v1/instances?wait=120', { template: 'chinook:schema', name: 'shape' })).body;
    expect(s.status, s.error).toBe('ready');
    expect(s.template).toBe('chinook:schema');
    expect(Number(await psql(s.connection.url, "select count(*) from information_schema.tables where table_schema = 'public'"))).toBeGreaterThanOrEqual(11);
    expect(await psql(s.connection.url, 'select (select count(*) from track) + (select count(*) from customer)')).toBe('0');
    await t.api('DELETE', `/api/v1/instances/${s.id}`);
    // MariaDB too: its template keeps only root@'%' with a password, so the variant's server needs its own way in.
    const m = (await t.api('POST', '/api/v1/instances?wait=120', { template: 'chinook-my:schema', name: 'shape-my' })).body;
    expect(m.status, m.error).toBe('ready');
    expect(Number(await mariadb(m.connection.url, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'Chinook'"))).toBeGreaterThanOrEqual(11);
    expect(await mariadb(m.connection.url, 'SELECT (SELECT COUNT(*) FROM Track) + (SELECT COUNT(*) FROM Customer)')).toBe('0');
    expect(await mariadb(m.connection.url, "SELECT GROUP_CONCAT(CONCAT(User, '@', Host)) FROM mysql.global_priv WHERE User NOT IN ('mariadb.sys')")).toBe('root@%');
    await t.api('DELETE', `/api/v1/instances/${m.id}`);
  });

  it('shows what the pull request’s migrations did to the schema, on both engines, the drop flagged', async () => {
    expect((await hook('pull_request', pullRequestPayload('opened', { repo: REPO, number: 5 }))).status).toBe(200);
    const ready = await until('both instances ready', async () => {
      const l = await live('gh:octo/app#5');
      return l.length === 2 && l.every((i) => i.status === 'ready') ? l : null;
    }, 180_000);
    const pg = await full(ready.find((i: any) => i.template === 'chinook').id);
    const my = await full(ready.find((i: any) => i.template === 'chinook-my').id);
    await psql(pg.connection.url, 'alter table track add column rating int not null default 0; create index ix_track_rating on track (rating); alter table track drop column composer');
    await mariadb(my.connection.url, 'alter table Track add column Rating int not null default 0; create index IX_TrackRating on Track (Rating); alter table Track drop column Composer');
    for (const [inst, col, idx, dropped] of [[pg, 'track.rating', 'ix_track_rating', 'track.composer'], [my, 'Track.Rating', 'IX_TrackRating', 'Track.Composer']] as const) {
      const r = await t.api('POST', `/api/v1/instances/${inst.id}/schema-diff`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.summary).toMatch(/1 column added.*1 index added.*1 column removed|1 column added.*1 column removed.*1 index added/);
      expect(r.body.warnings).toBe(1);
      // Names are schema-qualified where the engine has schemas (public.track.rating on PostgreSQL).
      const named = (n: string) => `\`(?:\\w+\\.)?${n.replace('.', '\\.')}\``;
      expect(r.body.markdown).toMatch(new RegExp(`➕ ${named(col)}`));
      expect(r.body.markdown).toContain(idx);
      expect(r.body.markdown).toMatch(new RegExp(`⚠️ \\*\\*Dropped column\\*\\* ${named(dropped)}`));
    }
    const c = await until('the comment with both diffs', async () => {
      const x = theComment();
      return x && (x.body.match(/Dropped column/g) ?? []).length === 2 ? x : null;
    });
    expect(c.body).toContain('#### chinook');
    expect(c.body).toContain('#### chinook-my');
  });

  it('ChatOps: /myaas reset from an owner resets (👀 🚀); from someone without write access nothing happens', async () => {
    const [pg] = (await live('gh:octo/app#5')).filter((i) => i.template === 'chinook');
    const say = async (body: string, association: string) => {
      const c = gh.seedComment(REPO, 5, body, 'alice');
      expect((await hook('issue_comment', issueCommentPayload({ repo: REPO, number: 5, commentId: c.id, body, association }))).status).toBe(202);
      return c.id;
    };
    const ignored = await say('/myaas reset', 'NONE');
    await new Promise((r) => setTimeout(r, 1000));
    expect(gh.reactions(ignored)).toEqual([]);
    expect((await full(pg.id)).readyAt).toBe(pg.readyAt);

    const asked = await say('/myaas reset', 'OWNER');
    await until('the rocket', async () => gh.reactions(asked).some((r) => r.content === 'rocket'), 120_000);
    expect(gh.reactions(asked).map((r) => r.content)).toEqual(['eyes', 'rocket']);
    const after = await until('the reset instance ready', async () => {
      const x = await full(pg.id);
      return x.status === 'ready' && x.readyAt !== pg.readyAt ? x : null;
    }, 120_000);
    // Fresh data from the template: the migration's column is gone again, the dropped one is back.
    expect(await psql(after.connection.url, "select count(*) from information_schema.columns where table_name = 'track' and column_name in ('rating', 'composer')")).toBe('1');
    expect(await psql(after.connection.url, "select column_name from information_schema.columns where table_name = 'track' and column_name = 'composer'")).toBe('composer');
  });

  it('the comment, rendered as GitHub renders Markdown, for the README', async () => {
    await access(CHROMIUM).catch(() => {
      throw new Error(`${CHROMIUM} is missing: run sudo scripts/setup-host.sh (it installs Debian's chromium)`);
    });
    // The comment as it stood with both diffs (the reset above cleared the PostgreSQL one): ask again.
    const [pg] = (await live('gh:octo/app#5')).filter((i) => i.template === 'chinook');
    await psql((await full(pg.id)).connection.url, 'alter table track add column rating int not null default 0; alter table track drop column composer');
    await t.api('POST', `/api/v1/instances/${pg.id}/schema-diff`);
    const c = await until('the comment with both diffs again', async () => {
      const x = theComment();
      return x && (x.body.match(/Dropped column/g) ?? []).length === 2 ? x : null;
    });
    const html = `<!doctype html><meta charset="utf-8"><style>
      body { font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328; max-width: 860px; margin: 16px; }
      .box { border: 1px solid #d1d9e0; border-radius: 6px; padding: 16px 20px; }
      .head { background: #f6f8fa; border-bottom: 1px solid #d1d9e0; margin: -16px -20px 16px; padding: 8px 16px; color: #59636e; }
      table { border-collapse: collapse; } td, th { border: 1px solid #d1d9e0; padding: 4px 10px; }
      code { background: #eff1f3; border-radius: 4px; padding: 1px 4px; font-size: 85%; } h3, h4 { margin: 16px 0 8px; }
      </style><div class="box"><div class="head"><b>myaas-user</b> commented</div>${await marked.parse(c.body, { gfm: true })}</div>`;
    const dir = await mkdtemp(join(tmpdir(), 'myaas-comment-'));
    try {
      await writeFile(join(dir, 'comment.html'), html);
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 900, height: 800 } });
        await page.goto(`file://${join(dir, 'comment.html')}`);
        expect(await page.locator('h4').allTextContents()).toEqual(['chinook', 'chinook-my']);
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
      } finally {
        await browser.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
