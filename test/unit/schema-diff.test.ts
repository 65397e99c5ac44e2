import { describe, expect, it } from 'vitest';
import { changeCount, diffSchemas, type ColumnSnapshot, type SchemaSnapshot, type TableSnapshot } from '../../controller/domain/schema.js';
import { narrowing, parseColumnType } from '../../controller/domain/schema-types.js';

const col = (name: string, type: string, more: Partial<ColumnSnapshot> = {}): ColumnSnapshot => ({ name, type, nullable: true, default: null, generated: null, ...more });
const table = (name: string, rows: number, columns: ColumnSnapshot[], more: Partial<TableSnapshot> = {}): TableSnapshot => ({ name, rows, columns, indexes: [], constraints: [], ...more });
const snap = (tables: TableSnapshot[], more: Partial<SchemaSnapshot> = {}): SchemaSnapshot => ({ engine: 'postgres', database: 'app', tables, views: [], routines: [], triggers: [], ...more });

const users = (rows = 10, extra: ColumnSnapshot[] = []) =>
  table('public.users', rows, [col('id', 'integer', { nullable: false, generated: 'identity' }), col('email', 'character varying(200)', { nullable: false }), ...extra], {
    indexes: [{ name: 'users_email_idx', unique: false, definition: 'btree (email)' }],
    constraints: [{ name: 'users_pkey', kind: 'primary', definition: 'PRIMARY KEY (id)' }],
  });

describe('diffSchemas', () => {
  it('finds nothing between equal snapshots', () => {
    const d = diffSchemas(snap([users()]), snap([users()]));
    expect(changeCount(d)).toBe(0);
    expect(d.warnings).toEqual([]);
  });

  it('reports an added column and index and a dropped column, the drop flagged', () => {
    const before = snap([users(10, [col('nickname', 'text')])]);
    const after = snap([users(10, [col('rating', 'integer', { nullable: false, default: '0' })])]);
    after.tables[0].indexes.push({ name: 'users_rating_idx', unique: false, definition: 'btree (rating)' });
    const d = diffSchemas(before, after);
    expect(d.kinds.column.added).toEqual([{ kind: 'column', action: 'added', name: 'public.users.rating', details: ['integer NOT NULL DEFAULT 0'] }]);
    expect(d.kinds.column.removed.map((c) => c.name)).toEqual(['public.users.nickname']);
    expect(d.kinds.index.added.map((c) => [c.name, c.details])).toEqual([['public.users.users_rating_idx', ['btree (rating)']]]);
    expect(changeCount(d)).toBe(3);
    expect(d.warnings.map((w) => [w.kind, w.name])).toEqual([['dropped_column', 'public.users.nickname']]);
    expect(d.warnings[0].message).toMatch(/^Dropped column public\.users\.nickname: its values in about 10 rows are lost$/);
  });

  it('flags a dropped table with its rows, without listing its columns, indexes or triggers again', () => {
    const before = snap([users(), table('public.audit', 5000, [col('at', 'timestamp with time zone')])], {
      triggers: [{ name: 'audit_t', table: 'public.audit', timing: 'AFTER INSERT FOR EACH ROW', definitionHash: 'h' }],
    });
    const d = diffSchemas(before, snap([users()]));
    expect(d.kinds.table.removed.map((t) => t.name)).toEqual(['public.audit']);
    expect(d.kinds.column.removed).toEqual([]);
    expect(d.kinds.trigger.removed).toEqual([]);
    expect(d.warnings).toMatchObject([{ kind: 'dropped_table', name: 'public.audit', detail: 'about 5000 rows are lost' }]);
  });

  it('flags a narrowed type and describes every column change', () => {
    const after = snap([users()]);
    after.tables[0].columns[1] = col('email', 'character varying(50)', { nullable: true, default: "'x'::character varying" });
    const d = diffSchemas(snap([users()]), after);
    expect(d.kinds.column.changed).toEqual([
      { kind: 'column', action: 'changed', name: 'public.users.email', details: ['type character varying(200) → character varying(50)', 'NOT NULL dropped', "default none → 'x'::character varying"] },
    ]);
    expect(d.warnings.map((w) => w.kind)).toEqual(['narrowed_type']);
    expect(d.warnings[0].detail).toBe('shorter maximum length (character varying(200) → character varying(50))');
  });

  it('does not flag a widened type', () => {
    const after = snap([users()]);
    after.tables[0].columns[1] = col('email', 'text', { nullable: false });
    const d = diffSchemas(snap([users()]), after);
    expect(d.kinds.column.changed).toHaveLength(1);
    expect(d.warnings).toEqual([]);
  });

  it('flags a new NOT NULL column without default only on a table with rows', () => {
    const add = [col('tenant', 'integer', { nullable: false })];
    const full = diffSchemas(snap([users(10)]), snap([users(10, add)]));
    expect(full.warnings).toMatchObject([{ kind: 'not_null_without_default', name: 'public.users.tenant' }]);
    expect(diffSchemas(snap([users(0)]), snap([users(0, add)])).warnings).toEqual([]);
    // A default, or a value the server fills in itself, is fine.
    expect(diffSchemas(snap([users(10)]), snap([users(10, [col('tenant', 'integer', { nullable: false, default: '1' })])])).warnings).toEqual([]);
    expect(diffSchemas(snap([users(10)]), snap([users(10, [col('seq', 'bigint', { nullable: false, generated: 'identity' })])])).warnings).toEqual([]);
  });

  it('flags an existing column made NOT NULL on a table with rows', () => {
    const before = snap([users(3, [col('nickname', 'text')])]);
    const after = snap([users(3, [col('nickname', 'text', { nullable: false })])]);
    expect(diffSchemas(before, after).warnings).toMatchObject([{ kind: 'set_not_null', name: 'public.users.nickname' }]);
  });

  it('orders warnings by seriousness: tables, columns, types, NOT NULL', () => {
    const before = snap([users(10, [col('a', 'bigint'), col('b', 'text')]), table('public.old', 1, [col('x', 'text')])]);
    const after = snap([users(10, [col('a', 'integer'), col('c', 'text', { nullable: false })])]);
    expect(diffSchemas(before, after).warnings.map((w) => w.kind)).toEqual(['dropped_table', 'dropped_column', 'narrowed_type', 'not_null_without_default']);
  });

  it('reports indexes, constraints, views, routines and triggers added, removed and changed', () => {
    const before = snap([users()], {
      views: [{ name: 'public.active', materialized: false, definitionHash: 'a' }, { name: 'public.gone', materialized: false, definitionHash: 'g' }],
      routines: [{ name: 'public.f(integer)', kind: 'function', returns: 'integer', definitionHash: '1' }],
      triggers: [{ name: 't', table: 'public.users', timing: 'BEFORE INSERT FOR EACH ROW', definitionHash: 'x' }],
    });
    const after = snap([users()], {
      views: [{ name: 'public.active', materialized: false, definitionHash: 'b' }, { name: 'public.stats', materialized: true, definitionHash: 's' }],
      routines: [{ name: 'public.f(integer)', kind: 'function', returns: 'bigint', definitionHash: '2' }, { name: 'public.p()', kind: 'procedure', returns: null, definitionHash: '3' }],
      triggers: [{ name: 't', table: 'public.users', timing: 'BEFORE INSERT OR UPDATE FOR EACH ROW', definitionHash: 'x' }],
    });
    after.tables[0].indexes = [{ name: 'users_email_idx', unique: true, definition: 'btree (email)' }];
    after.tables[0].constraints.push({ name: 'users_email_check', kind: 'check', definition: "CHECK ((email ~~ '%@%'::text))" });
    const d = diffSchemas(before, after);
    expect(d.kinds.index.changed).toMatchObject([{ name: 'public.users.users_email_idx', details: ['btree (email) → UNIQUE btree (email)'] }]);
    expect(d.kinds.constraint.added).toMatchObject([{ name: 'public.users.users_email_check' }]);
    expect(d.kinds.view.added).toMatchObject([{ name: 'public.stats', details: ['materialized view'] }]);
    expect(d.kinds.view.removed).toMatchObject([{ name: 'public.gone' }]);
    expect(d.kinds.view.changed).toMatchObject([{ name: 'public.active', details: ['definition changed'] }]);
    expect(d.kinds.routine.changed).toMatchObject([{ name: 'public.f(integer)', details: ['returns integer → bigint', 'body changed'] }]);
    expect(d.kinds.routine.added).toMatchObject([{ name: 'public.p()', details: ['procedure'] }]);
    expect(d.kinds.trigger.changed).toMatchObject([{ name: 'public.users.t', details: ['BEFORE INSERT FOR EACH ROW → BEFORE INSERT OR UPDATE FOR EACH ROW'] }]);
    expect(d.warnings).toEqual([]);
  });

  it('lists a new table with its columns and no warnings', () => {
    const d = diffSchemas(snap([]), snap([table('public.tags', 0, [col('id', 'integer', { nullable: false }), col('label', 'text')])]));
    expect(d.kinds.table.added).toEqual([{ kind: 'table', action: 'added', name: 'public.tags', details: ['id integer NOT NULL', 'label text NULL'] }]);
    expect(d.kinds.column.added).toEqual([]);
    expect(d.warnings).toEqual([]);
  });
});

describe('narrowing', () => {
  it.each([
    ['postgres', 'character varying(200)', 'character varying(50)', /shorter maximum length/],
    ['postgres', 'text', 'character varying(255)', /shorter maximum length/],
    ['postgres', 'bigint', 'integer', /smaller integer range/],
    ['postgres', 'numeric(12,2)', 'numeric(10,2)', /lower numeric precision/],
    ['postgres', 'numeric(10,4)', 'numeric(10,2)', /fewer decimal places/],
    ['postgres', 'numeric', 'numeric(20,2)', /fewer decimal places|lower numeric precision/],
    ['postgres', 'double precision', 'real', /less floating-point precision/],
    ['postgres', 'timestamp without time zone', 'timestamp(0) without time zone', /fewer fractional-second digits/],
    ['postgres', 'timestamp with time zone', 'date', /type changed/],
    ['postgres', 'text', 'integer', /type changed/],
    ['postgres', 'bigint', 'double precision', /lose precision/],
    ['postgres', 'uuid', 'integer', /type changed/],
    ['mariadb', 'int(10) unsigned', 'int(11)', /smaller integer range/],
    ['mariadb', 'int(11)', 'int(10) unsigned', /smaller integer range/],
    ['mariadb', 'mediumtext', 'text', /shorter maximum length/],
    ['mariadb', 'longblob', 'varbinary(255)', /shorter maximum length/],
    ['mariadb', 'decimal(10,2)', 'decimal(8,2)', /lower numeric precision/],
    ["mariadb", "enum('a','b','c')", "enum('a','c')", /enum values removed: b/],
    ['mariadb', 'datetime(6)', 'datetime', /fewer fractional-second digits/],
    ['mariadb', 'bigint(20)', 'varchar(10)', /type changed/],
  ] as const)('%s: %s → %s narrows', (engine, before, after, why) => {
    expect(narrowing(engine, before, after)).toMatch(why);
  });

  it.each([
    ['postgres', 'character varying(50)', 'character varying(200)'],
    ['postgres', 'character varying(50)', 'text'],
    ['postgres', 'integer', 'bigint'],
    ['postgres', 'integer', 'numeric(12,0)'],
    ['postgres', 'integer', 'double precision'],
    ['postgres', 'integer', 'character varying(11)'],
    ['postgres', 'numeric(10,2)', 'numeric(12,4)'],
    ['postgres', 'timestamp(3) without time zone', 'timestamp with time zone'],
    ['postgres', 'date', 'timestamp without time zone'],
    ['mariadb', 'int(11)', 'bigint(20)'],
    ['mariadb', 'int(10) unsigned', 'bigint(20)'],
    ['mariadb', 'int(11)', 'int(10)'],
    ['mariadb', 'varchar(255)', 'text'],
    ['mariadb', 'text', 'longtext'],
    ["mariadb", "enum('a','b')", "enum('a','b','c')"],
    ['mariadb', 'tinyint(4)', 'smallint(6)'],
  ] as const)('%s: %s → %s keeps every value', (engine, before, after) => {
    expect(narrowing(engine, before, after)).toBeNull();
  });

  it('reads the parts of a type that decide what it holds', () => {
    expect(parseColumnType('postgres', 'character varying')).toMatchObject({ family: 'string', length: Infinity });
    expect(parseColumnType('postgres', 'character(3)')).toMatchObject({ family: 'string', length: 3 });
    expect(parseColumnType('mariadb', 'char')).toMatchObject({ family: 'string', length: 1 });
    expect(parseColumnType('mariadb', 'decimal')).toMatchObject({ family: 'decimal', precision: 10, scale: 0 });
    expect(parseColumnType('mariadb', 'tinyint(1) unsigned')).toMatchObject({ family: 'int', bytes: 1, unsigned: true });
    expect(parseColumnType('postgres', 'integer[]')).toMatchObject({ family: 'other' });
  });
});
