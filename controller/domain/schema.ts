// A database's structure as read from its catalogs, and the structural diff of two such snapshots
// (a template version against a pull request's instance after its migrations ran). Pure.
import { narrowing } from './schema-types.js';
import type { EngineName } from './types.js';

export interface ColumnSnapshot {
  name: string;
  /** as the engine prints it, e.g. `character varying(50)` or `int(10) unsigned` */
  type: string;
  nullable: boolean;
  /** default expression as the engine prints it; null when none */
  default: string | null;
  /** values the server fills in itself; such a column needs no default to be NOT NULL */
  generated: 'identity' | 'auto_increment' | 'stored' | 'virtual' | null;
}

export interface IndexSnapshot {
  name: string;
  unique: boolean;
  /** method, keys and predicate, e.g. `btree (lower(email)) WHERE active` */
  definition: string;
}

export type ConstraintKind = 'primary' | 'unique' | 'foreign' | 'check' | 'exclude';

export interface ConstraintSnapshot {
  name: string;
  kind: ConstraintKind;
  /** e.g. `FOREIGN KEY (artist_id) REFERENCES artist(artist_id) ON DELETE CASCADE` */
  definition: string;
}

export interface TableSnapshot {
  /** `schema.table` for PostgreSQL, `table` for MariaDB (one database is one schema there) */
  name: string;
  /**
   * the catalog's row estimate; where the catalog has none (never analysed) or says 0, a count of up
   * to 10000 rows, so 0 means the table was seen to be empty
   */
  rows: number;
  columns: ColumnSnapshot[];
  indexes: IndexSnapshot[];
  constraints: ConstraintSnapshot[];
}

export interface ViewSnapshot {
  name: string;
  materialized: boolean;
  /** a digest of the normalised definition: bodies can be long, and only "changed" matters here */
  definitionHash: string;
}

export interface RoutineSnapshot {
  /** with its argument types where the engine overloads names: `public.add(integer, integer)` */
  name: string;
  kind: 'function' | 'procedure';
  returns: string | null;
  definitionHash: string;
}

export interface TriggerSnapshot {
  name: string;
  table: string;
  /** e.g. `BEFORE INSERT OR UPDATE` */
  timing: string;
  definitionHash: string;
}

export interface SchemaSnapshot {
  engine: EngineName;
  database: string;
  tables: TableSnapshot[];
  views: ViewSnapshot[];
  routines: RoutineSnapshot[];
  triggers: TriggerSnapshot[];
}

export const OBJECT_KINDS = ['table', 'column', 'index', 'constraint', 'view', 'routine', 'trigger'] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];
export type ChangeAction = 'added' | 'removed' | 'changed';

export interface SchemaChange {
  kind: ObjectKind;
  action: ChangeAction;
  /** qualified: `table`, `table.column`, `table.index`, `table.trigger`, `view`, `routine` */
  name: string;
  /** what is there now (added), was there (removed) or what changed, one item each */
  details: string[];
}

export type WarningKind = 'dropped_table' | 'dropped_column' | 'narrowed_type' | 'not_null_without_default' | 'set_not_null';

export interface SchemaWarning {
  kind: WarningKind;
  /** the table or `table.column` concerned */
  name: string;
  /** why it is destructive, without the name */
  detail: string;
  /** one sentence with both, for logs and plain text */
  message: string;
}

export const WARNING_LABELS: Record<WarningKind, string> = {
  dropped_table: 'Dropped table',
  dropped_column: 'Dropped column',
  narrowed_type: 'Narrowed type',
  not_null_without_default: 'New NOT NULL column without default',
  set_not_null: 'Column made NOT NULL',
};

function warning(kind: WarningKind, name: string, detail: string): SchemaWarning {
  return { kind, name, detail, message: `${WARNING_LABELS[kind]} ${name}: ${detail}` };
}

export interface KindDiff {
  added: SchemaChange[];
  removed: SchemaChange[];
  changed: SchemaChange[];
}

export interface SchemaDiff {
  engine: EngineName;
  kinds: Record<ObjectKind, KindDiff>;
  /** destructive changes, the most serious kinds first */
  warnings: SchemaWarning[];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `varchar(50) NOT NULL DEFAULT 'x'` */
function describeColumn(c: ColumnSnapshot): string {
  return [
    c.type,
    c.nullable ? 'NULL' : 'NOT NULL',
    ...(c.default !== null ? [`DEFAULT ${c.default}`] : []),
    ...(c.generated ? [c.generated.replace('_', ' ')] : []),
  ].join(' ');
}

/** Pairs objects of two lists by key: only in before, only in after, in both. */
function pair<T>(before: T[], after: T[], key: (t: T) => string) {
  const b = new Map(before.map((x) => [key(x), x]));
  const a = new Map(after.map((x) => [key(x), x]));
  return {
    removed: [...b].filter(([k]) => !a.has(k)).map(([, v]) => v),
    added: [...a].filter(([k]) => !b.has(k)).map(([, v]) => v),
    both: [...a].filter(([k]) => b.has(k)).map(([k, v]) => [b.get(k)!, v] as const),
  };
}

function emptyKinds(): Record<ObjectKind, KindDiff> {
  return Object.fromEntries(OBJECT_KINDS.map((k) => [k, { added: [], removed: [], changed: [] }])) as unknown as Record<ObjectKind, KindDiff>;
}

/** `what before → after` when they differ, else nothing. */
const change = (what: string, b: string, a: string): string[] => (b === a ? [] : [`${what}${b} → ${a}`]);

interface Describe<T> {
  key: (t: T) => string;
  /** qualified name shown for the object */
  name: (t: T) => string;
  show: (t: T) => string[];
  changes: (b: T, a: T) => string[];
}

/** Records the objects of one kind as added, removed or changed; returns the pairing for warnings. */
function compare<T>(into: KindDiff, kind: ObjectKind, before: T[], after: T[], d: Describe<T>) {
  const p = pair(before, after, d.key);
  for (const x of p.removed) into.removed.push({ kind, action: 'removed', name: d.name(x), details: d.show(x) });
  for (const x of p.added) into.added.push({ kind, action: 'added', name: d.name(x), details: d.show(x) });
  for (const [b, a] of p.both) {
    const details = d.changes(b, a);
    if (details.length) into.changed.push({ kind, action: 'changed', name: d.name(a), details });
  }
  return p;
}

function diffTable(engine: EngineName, b: TableSnapshot, a: TableSnapshot, kinds: Record<ObjectKind, KindDiff>, warn: (w: SchemaWarning) => void): void {
  const t = a.name;
  const rows = plural(b.rows, 'row');
  const cols = compare(kinds.column, 'column', b.columns, a.columns, {
    key: (c) => c.name,
    name: (c) => `${t}.${c.name}`,
    show: (c) => [describeColumn(c)],
    changes: (bc, ac) => {
      const name = `${t}.${ac.name}`;
      const why = bc.type !== ac.type ? narrowing(engine, bc.type, ac.type) : null;
      if (why) warn(warning('narrowed_type', name, why));
      if (bc.nullable && !ac.nullable && b.rows > 0 && !ac.generated) {
        warn(warning('set_not_null', name, `the table has about ${rows}; this fails wherever the column holds NULL`));
      }
      return [
        ...change('type ', bc.type, ac.type),
        ...(bc.nullable !== ac.nullable ? [ac.nullable ? 'NOT NULL dropped' : 'NOT NULL added'] : []),
        ...change('default ', bc.default ?? 'none', ac.default ?? 'none'),
        ...change('generated ', bc.generated ?? 'no', ac.generated ?? 'no'),
      ];
    },
  });
  for (const c of cols.removed) warn(warning('dropped_column', `${t}.${c.name}`, b.rows > 0 ? `its values in about ${rows} are lost` : 'the table was empty'));
  for (const c of cols.added) {
    if (!c.nullable && c.default === null && !c.generated && b.rows > 0) {
      warn(warning('not_null_without_default', `${t}.${c.name}`, `the table has about ${rows}; adding it fails (or fills in an implicit value) where rows exist`));
    }
  }
  const showIndex = (i: IndexSnapshot) => `${i.unique ? 'UNIQUE ' : ''}${i.definition}`;
  compare(kinds.index, 'index', b.indexes, a.indexes, {
    key: (i) => i.name,
    name: (i) => `${t}.${i.name}`,
    show: (i) => [showIndex(i)],
    changes: (bi, ai) => change('', showIndex(bi), showIndex(ai)),
  });
  compare(kinds.constraint, 'constraint', b.constraints, a.constraints, {
    key: (k) => k.name,
    name: (k) => `${t}.${k.name}`,
    show: (k) => [k.definition],
    changes: (bk, ak) => change('', bk.definition, ak.definition),
  });
}

const WARNING_ORDER: WarningKind[] = ['dropped_table', 'dropped_column', 'narrowed_type', 'not_null_without_default', 'set_not_null'];

/** What changed from `before` to `after`, per kind of object, with destructive changes as warnings. */
export function diffSchemas(before: SchemaSnapshot, after: SchemaSnapshot): SchemaDiff {
  const kinds = emptyKinds();
  const warnings: SchemaWarning[] = [];
  const warn = (w: SchemaWarning) => warnings.push(w);

  const tables = compare(kinds.table, 'table', before.tables, after.tables, {
    key: (t) => t.name,
    name: (t) => t.name,
    show: (t) => t.columns.map((c) => `${c.name} ${describeColumn(c)}`),
    changes: () => [],
  });
  // A dropped table is one entry: its columns, indexes and triggers went with it.
  for (const t of kinds.table.removed) {
    const was = tables.removed.find((x) => x.name === t.name)!;
    t.details = [plural(was.columns.length, 'column'), `about ${plural(was.rows, 'row')}`];
    warn(warning('dropped_table', t.name, was.rows > 0 ? `about ${plural(was.rows, 'row')} are lost` : 'it was empty'));
  }
  for (const [b, a] of tables.both) diffTable(after.engine, b, a, kinds, warn);

  const viewKind = (v: ViewSnapshot) => (v.materialized ? 'materialized view' : 'view');
  compare(kinds.view, 'view', before.views, after.views, {
    key: (v) => v.name,
    name: (v) => v.name,
    show: (v) => [viewKind(v)],
    changes: (b, a) => [...change('', viewKind(b), viewKind(a)), ...(b.definitionHash !== a.definitionHash ? ['definition changed'] : [])],
  });
  compare(kinds.routine, 'routine', before.routines, after.routines, {
    key: (r) => r.name,
    name: (r) => r.name,
    show: (r: RoutineSnapshot) => [r.returns ? `${r.kind} returning ${r.returns}` : r.kind],
    changes: (b, a) => [
      ...change('', b.kind, a.kind),
      ...change('returns ', b.returns ?? 'nothing', a.returns ?? 'nothing'),
      ...(b.definitionHash !== a.definitionHash ? ['body changed'] : []),
    ],
  });
  const dropped = new Set(tables.removed.map((t) => t.name));
  const trigName = (t: TriggerSnapshot) => `${t.table}.${t.name}`;
  compare(kinds.trigger, 'trigger', before.triggers.filter((t) => !dropped.has(t.table)), after.triggers, {
    key: trigName,
    name: trigName,
    show: (t) => [t.timing],
    changes: (b, a) => [...change('', b.timing, a.timing), ...(b.definitionHash !== a.definitionHash ? ['definition changed'] : [])],
  });

  const byName = (x: SchemaChange, y: SchemaChange) => x.name.localeCompare(y.name);
  for (const k of OBJECT_KINDS) for (const list of Object.values(kinds[k])) list.sort(byName);
  warnings.sort((x, y) => WARNING_ORDER.indexOf(x.kind) - WARNING_ORDER.indexOf(y.kind) || x.name.localeCompare(y.name));
  return { engine: after.engine, kinds, warnings };
}

/** Number of added, removed and changed objects over all kinds. */
export function changeCount(diff: SchemaDiff): number {
  return OBJECT_KINDS.reduce((n, k) => n + diff.kinds[k].added.length + diff.kinds[k].removed.length + diff.kinds[k].changed.length, 0);
}
