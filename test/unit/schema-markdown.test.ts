import { describe, expect, it } from 'vitest';
import { diffSchemas, type ColumnSnapshot, type SchemaSnapshot, type TableSnapshot } from '../../controller/domain/schema.js';
import { renderSchemaDiffMarkdown, schemaDiffSummary } from '../../controller/domain/schema-markdown.js';

const col = (name: string, type: string, more: Partial<ColumnSnapshot> = {}): ColumnSnapshot => ({ name, type, nullable: true, default: null, generated: null, ...more });
const table = (name: string, rows: number, columns: ColumnSnapshot[]): TableSnapshot => ({ name, rows, columns, indexes: [], constraints: [] });
const snap = (tables: TableSnapshot[], engine: 'postgres' | 'mariadb' = 'postgres'): SchemaSnapshot => ({ engine, database: 'app', tables, views: [], routines: [], triggers: [] });

describe('schema diff Markdown', () => {
  it('says so when nothing changed', () => {
    const d = diffSchemas(snap([table('public.a', 1, [col('x', 'text')])]), snap([table('public.a', 1, [col('x', 'text')])]));
    expect(schemaDiffSummary(d)).toBe('No schema changes.');
    expect(renderSchemaDiffMarkdown(d)).toBe('**Schema changes:** none\n');
  });

  it('puts a summary line first, then warnings, then each kind', () => {
    const before = snap([table('public.track', 3503, [col('id', 'integer'), col('composer', 'character varying(220)')])]);
    const after = snap([table('public.track', 3503, [col('id', 'integer'), col('rating', 'integer', { nullable: false, default: '0' })])]);
    after.tables[0].indexes.push({ name: 'track_rating_idx', unique: false, definition: 'btree (rating)' });
    const md = renderSchemaDiffMarkdown(diffSchemas(before, after));
    expect(md).toBe(
      [
        '**Schema changes:** 1 column added, 1 index added, 1 column removed · ⚠️ 1 destructive change',
        '',
        '⚠️ **Destructive changes**',
        '',
        '- ⚠️ **Dropped column** `public.track.composer`: its values in about 3503 rows are lost',
        '',
        '**Columns** (+1 −1)',
        '',
        '- ➕ `public.track.rating` `integer NOT NULL DEFAULT 0`',
        '- ➖ `public.track.composer` `character varying(220) NULL`',
        '',
        '**Indexes** (+1)',
        '',
        '- ➕ `public.track.track_rating_idx` `btree (rating)`',
        '',
      ].join('\n'),
    );
  });

  it('collapses long sections in <details> and keeps names with backticks in one code span', () => {
    const cols = Array.from({ length: 8 }, (_, i) => col(`c${i}`, 'text'));
    const md = renderSchemaDiffMarkdown(diffSchemas(snap([table('t', 0, [])], 'mariadb'), snap([table('t', 0, cols)], 'mariadb')));
    expect(md).toContain('<details><summary><b>Columns</b> (+8)</summary>\n\n- ➕ `t.c0`');
    expect(md).toMatch(/\n<\/details>\n$/);
    const odd = diffSchemas(snap([table('t', 0, [])], 'mariadb'), snap([table('t', 0, [col('we`ird', 'text')])], 'mariadb'));
    expect(renderSchemaDiffMarkdown(odd)).toContain('- ➕ ``t.we`ird`` `text NULL`');
  });

  it('escapes HTML outside code spans', () => {
    const before = snap([table('public.t', 5, [col('v', "enum('<a>','b')")])], 'mariadb');
    const after = snap([table('public.t', 5, [col('v', "enum('b')")])], 'mariadb');
    const md = renderSchemaDiffMarkdown(diffSchemas(before, after));
    expect(md).toContain("enum values removed: &lt;a&gt; (enum('&lt;a&gt;','b') → enum('b'))");
    expect(md).toContain("`type enum('<a>','b') → enum('b')`");
  });

  it('stays within the length bound, saying how many items were left out', () => {
    const many = Array.from({ length: 3000 }, (_, i) => table(`public.table_with_a_long_name_${i}`, 100, [col('id', 'integer')]));
    const d = diffSchemas(snap(many), snap([]));
    const md = renderSchemaDiffMarkdown(d, { maxChars: 20_000 });
    expect(md.length).toBeLessThanOrEqual(20_000);
    expect(md).toMatch(/^\*\*Schema changes:\*\* 3000 tables removed · ⚠️ 3000 destructive changes/);
    expect(md).toMatch(/- … and \d+ more/);
    const full = renderSchemaDiffMarkdown(d, { maxChars: 10_000_000 });
    expect(full).not.toContain('… and');
  });
});
