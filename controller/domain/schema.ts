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

function columnChanges(engine: EngineName, table: string, b: ColumnSnapshot, a: ColumnSnapshot, rows: number, warn: (w: SchemaWarning) => void): string[] {
  const name = `${table}.${a.name}`;
  const details: string[] = [];
  if (b.type !== a.type) {
    details.push(`type ${b.type} → ${a.type}`);
    const why = narrowing(engine, b.type, a.type);
    if (why) warn(warning('narrowed_type', name, why));
  }
  if (b.nullable !== a.nullable) {
    details.push(a.nullable ? 'NOT NULL dropped' : 'NOT NULL added');
    if (!a.nullable && rows > 0 && !a.generated) {
      warn(warning('set_not_null', name, `the table has about ${plural(rows, 'row')}; this fails wherever the column holds NULL`));
    }
  }
  if (b.default !== a.default) details.push(`default ${b.default ?? 'none'} → ${a.default ?? 'none'}`);
  if (b.generated !== a.generated) details.push(`generated ${b.generated ?? 'no'} → ${a.generated ?? 'no'}`);
  return details;
}

function diffTable(engine: EngineName, b: TableSnapshot, a: TableSnapshot, kinds: Record<ObjectKind, KindDiff>, warn: (w: SchemaWarning) => void): void {
  const t = a.name;
  const cols = pair(b.columns, a.columns, (c) => c.name);
  for (const c of cols.removed) {
    kinds.column.removed.push({ kind: 'column', action: 'removed', name: `${t}.${c.name}`, details: [describeColumn(c)] });
    warn(warning('dropped_column', `${t}.${c.name}`, b.rows > 0 ? `its values in about ${plural(b.rows, 'row')} are lost` : 'the table was empty'));
  }
  for (const c of cols.added) {
    kinds.column.added.push({ kind: 'column', action: 'added', name: `${t}.${c.name}`, details: [describeColumn(c)] });
    if (!c.nullable && c.default === null && !c.generated && b.rows > 0) {
      warn(warning('not_null_without_default', `${t}.${c.name}`, `the table has about ${plural(b.rows, 'row')}; adding it fails (or fills in an implicit value) where rows exist`));
    }
  }
  for (const [bc, ac] of cols.both) {
    const details = columnChanges(engine, t, bc, ac, b.rows, warn);
    if (details.length) kinds.column.changed.push({ kind: 'column', action: 'changed', name: `${t}.${ac.name}`, details });
  }
  const idx = pair(b.indexes, a.indexes, (i) => i.name);
  const showIndex = (i: IndexSnapshot) => [`${i.unique ? 'UNIQUE ' : ''}${i.definition}`];
  for (const i of idx.removed) kinds.index.removed.push({ kind: 'index', action: 'removed', name: `${t}.${i.name}`, details: showIndex(i) });
  for (const i of idx.added) kinds.index.added.push({ kind: 'index', action: 'added', name: `${t}.${i.name}`, details: showIndex(i) });
  for (const [bi, ai] of idx.both) {
    if (showIndex(bi)[0] !== showIndex(ai)[0]) kinds.index.changed.push({ kind: 'index', action: 'changed', name: `${t}.${ai.name}`, details: [`${showIndex(bi)[0]} → ${showIndex(ai)[0]}`] });
  }
  const cons = pair(b.constraints, a.constraints, (c) => c.name);
  for (const c of cons.removed) kinds.constraint.removed.push({ kind: 'constraint', action: 'removed', name: `${t}.${c.name}`, details: [c.definition] });
  for (const c of cons.added) kinds.constraint.added.push({ kind: 'constraint', action: 'added', name: `${t}.${c.name}`, details: [c.definition] });
  for (const [bc, ac] of cons.both) {
    if (bc.definition !== ac.definition) kinds.constraint.changed.push({ kind: 'constraint', action: 'changed', name: `${t}.${ac.name}`, details: [`${bc.definition} → ${ac.definition}`] });
  }
}

const WARNING_ORDER: WarningKind[] = ['dropped_table', 'dropped_column', 'narrowed_type', 'not_null_without_default', 'set_not_null'];

/** What changed from `before` to `after`, per kind of object, with destructive changes as warnings. */
export function diffSchemas(before: SchemaSnapshot, after: SchemaSnapshot): SchemaDiff {
  const kinds = emptyKinds();
  const warnings: SchemaWarning[] = [];
  const warn = (w: SchemaWarning) => warnings.push(w);
  const engine = after.engine;

  const tables = pair(before.tables, after.tables, (t) => t.name);
  for (const t of tables.removed) {
    kinds.table.removed.push({ kind: 'table', action: 'removed', name: t.name, details: [plural(t.columns.length, 'column'), `about ${plural(t.rows, 'row')}`] });
    warn(warning('dropped_table', t.name, t.rows > 0 ? `about ${plural(t.rows, 'row')} are lost` : 'it was empty'));
  }
  for (const t of tables.added) {
    kinds.table.added.push({ kind: 'table', action: 'added', name: t.name, details: t.columns.map((c) => `${c.name} ${describeColumn(c)}`) });
  }
  for (const [b, a] of tables.both) diffTable(engine, b, a, kinds, warn);

  const views = pair(before.views, after.views, (v) => v.name);
  const viewKind = (v: ViewSnapshot) => (v.materialized ? 'materialized view' : 'view');
  for (const v of views.removed) kinds.view.removed.push({ kind: 'view', action: 'removed', name: v.name, details: [viewKind(v)] });
  for (const v of views.added) kinds.view.added.push({ kind: 'view', action: 'added', name: v.name, details: [viewKind(v)] });
  for (const [b, a] of views.both) {
    const details = [...(b.materialized !== a.materialized ? [`${viewKind(b)} → ${viewKind(a)}`] : []), ...(b.definitionHash !== a.definitionHash ? ['definition changed'] : [])];
    if (details.length) kinds.view.changed.push({ kind: 'view', action: 'changed', name: a.name, details });
  }

  const routines = pair(before.routines, after.routines, (r) => r.name);
  const showRoutine = (r: RoutineSnapshot) => [r.returns ? `${r.kind} returning ${r.returns}` : r.kind];
  for (const r of routines.removed) kinds.routine.removed.push({ kind: 'routine', action: 'removed', name: r.name, details: showRoutine(r) });
  for (const r of routines.added) kinds.routine.added.push({ kind: 'routine', action: 'added', name: r.name, details: showRoutine(r) });
  for (const [b, a] of routines.both) {
    const details = [
      ...(b.kind !== a.kind ? [`${b.kind} → ${a.kind}`] : []),
      ...(b.returns !== a.returns ? [`returns ${b.returns ?? 'nothing'} → ${a.returns ?? 'nothing'}`] : []),
      ...(b.definitionHash !== a.definitionHash ? ['body changed'] : []),
    ];
    if (details.length) kinds.routine.changed.push({ kind: 'routine', action: 'changed', name: a.name, details });
  }

  const triggers = pair(before.triggers, after.triggers, (t) => `${t.table}.${t.name}`);
  const trigName = (t: TriggerSnapshot) => `${t.table}.${t.name}`;
  // A dropped table's triggers went with it; the table's own entry says so.
  const droppedTables = new Set(tables.removed.map((t) => t.name));
  for (const t of triggers.removed.filter((t) => !droppedTables.has(t.table))) kinds.trigger.removed.push({ kind: 'trigger', action: 'removed', name: trigName(t), details: [t.timing] });
  for (const t of triggers.added) kinds.trigger.added.push({ kind: 'trigger', action: 'added', name: trigName(t), details: [t.timing] });
  for (const [b, a] of triggers.both) {
    const details = [...(b.timing !== a.timing ? [`${b.timing} → ${a.timing}`] : []), ...(b.definitionHash !== a.definitionHash ? ['definition changed'] : [])];
    if (details.length) kinds.trigger.changed.push({ kind: 'trigger', action: 'changed', name: trigName(a), details });
  }

  for (const k of OBJECT_KINDS) for (const list of Object.values(kinds[k])) list.sort((x: SchemaChange, y: SchemaChange) => x.name.localeCompare(y.name));
  warnings.sort((x, y) => WARNING_ORDER.indexOf(x.kind) - WARNING_ORDER.indexOf(y.kind) || x.name.localeCompare(y.name));
  return { engine, kinds, warnings };
}

/** Number of added, removed and changed objects over all kinds. */
export function changeCount(diff: SchemaDiff): number {
  return OBJECT_KINDS.reduce((n, k) => n + diff.kinds[k].added.length + diff.kinds[k].removed.length + diff.kinds[k].changed.length, 0);
}
