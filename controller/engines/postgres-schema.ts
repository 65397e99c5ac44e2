// PostgreSQL's structure from its catalogs (pg_class, pg_attribute, pg_index, pg_constraint, pg_proc,
// pg_trigger) over the wire, as a SchemaSnapshot; and the statement that empties every user table for a
// schema-only variant. System schemas and objects that belong to extensions are left out: they are not
// the application's, and an extension upgrade is not a migration.
import postgres from 'postgres';
import type { ColumnSnapshot, ConstraintKind, SchemaSnapshot, TableSnapshot } from '../domain/schema.js';
import type { EngineConn } from './engine.js';

const USER_NS = "n.nspname <> 'information_schema' and n.nspname !~ '^pg_'";
const notExtension = (catalog: string, oid: string) =>
  `not exists (select 1 from pg_depend d where d.classid = '${catalog}'::regclass and d.objid = ${oid} and d.deptype = 'e')`;

// Tables with their row estimate; where the planner statistics have none (never analysed, or zero) a
// count of at most 10000 rows: query_to_xml runs that count per table inside this one statement.
const TABLES = `
  select c.oid::int8::text as oid, n.nspname as schema, c.relname as name, c.reltuples::float8 as estimate,
    case when c.reltuples > 0 then null else (xpath('/row/n/text()', query_to_xml(
      format('select count(*) as n from (select 1 from %I.%I limit 10000) s', n.nspname, c.relname), false, true, '')))[1]::text::int end as probed
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r','p') and ${USER_NS} and ${notExtension('pg_class', 'c.oid')}`;

const COLUMNS = `
  select a.attrelid::int8::text as oid, a.attname as name, format_type(a.atttypid, a.atttypmod) as type, (not a.attnotnull) as nullable,
    pg_get_expr(d.adbin, d.adrelid) as expr, a.attidentity::text as identity, a.attgenerated::text as generated
  from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
  where a.attrelid = any($1::oid[]) and a.attnum > 0 and not a.attisdropped
  order by a.attrelid, a.attnum`;

// Indexes that only implement a primary key, unique or exclusion constraint are reported as that constraint.
const INDEXES = `
  select i.indrelid::int8::text as oid, ic.relname as name, i.indisunique as uniq, pg_get_indexdef(i.indexrelid) as def
  from pg_index i join pg_class ic on ic.oid = i.indexrelid
  where i.indrelid = any($1::oid[])
    and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.conrelid = i.indrelid and k.contype in ('p','u','x'))`;

const CONSTRAINTS = `
  select k.conrelid::int8::text as oid, k.conname as name, k.contype::text as type, pg_get_constraintdef(k.oid) as def
  from pg_constraint k where k.conrelid = any($1::oid[]) and k.contype in ('p','u','f','c','x')`;

const VIEWS = `
  select n.nspname as schema, c.relname as name, c.relkind = 'm' as materialized, md5(pg_get_viewdef(c.oid)) as hash
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('v','m') and ${USER_NS} and ${notExtension('pg_class', 'c.oid')}`;

const ROUTINES = `
  select n.nspname as schema, p.proname as name, pg_get_function_identity_arguments(p.oid) as args, p.prokind::text as kind,
    case when p.prokind = 'p' then null else pg_get_function_result(p.oid) end as returns, md5(pg_get_functiondef(p.oid)) as hash
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  where p.prokind in ('f','p') and ${USER_NS} and ${notExtension('pg_proc', 'p.oid')}`;

const TRIGGERS = `
  select n.nspname as schema, c.relname as tbl, t.tgname as name, t.tgtype::int as tgtype, md5(pg_get_triggerdef(t.oid)) as hash
  from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
  where not t.tgisinternal and ${USER_NS} and ${notExtension('pg_trigger', 't.oid')}`;

const CONSTRAINT_KINDS: Record<string, ConstraintKind> = { p: 'primary', u: 'unique', f: 'foreign', c: 'check', x: 'exclude' };

/** `BEFORE INSERT OR UPDATE FOR EACH ROW` from pg_trigger.tgtype's bits. */
function triggerTiming(tgtype: number): string {
  const timing = tgtype & 2 ? 'BEFORE' : tgtype & 64 ? 'INSTEAD OF' : 'AFTER';
  const events = ([[4, 'INSERT'], [16, 'UPDATE'], [8, 'DELETE'], [32, 'TRUNCATE']] as const).filter(([bit]) => tgtype & bit).map(([, e]) => e);
  return `${timing} ${events.join(' OR ')} FOR EACH ${tgtype & 1 ? 'ROW' : 'STATEMENT'}`;
}

function column(r: Record<string, any>): ColumnSnapshot {
  const generated = r.identity === 'a' || r.identity === 'd' ? 'identity' : r.generated === 's' ? 'stored' : r.generated === 'v' ? 'virtual' : null;
  // A generated column's "default" is its expression, which the type of generation already says.
  const computed = generated === 'stored' || generated === 'virtual';
  return { name: r.name, type: r.type, nullable: r.nullable === true || r.nullable === 't', default: computed ? null : (r.expr ?? null), generated };
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Reads the structure of conn's database. */
export async function readPostgresSchema(conn: EngineConn): Promise<SchemaSnapshot> {
  const sql = postgres({
    host: conn.host, port: conn.port, user: conn.user, password: conn.password, database: conn.database,
    max: 1, connect_timeout: 10, idle_timeout: 1, prepare: false, fetch_types: false, onnotice: () => {},
  });
  try {
    // One snapshot: every catalog query sees the same state, even while a migration runs next door.
    return await sql.begin('isolation level repeatable read read only', async (tx) => {
      const tableRows = await tx.unsafe(TABLES);
      const oids = tableRows.map((t) => t.oid as string);
      const oidArray = `{${oids.join(',')}}`;
      const [cols, idx, cons, views, routines, triggers] = await Promise.all([
        tx.unsafe(COLUMNS, [oidArray]), tx.unsafe(INDEXES, [oidArray]), tx.unsafe(CONSTRAINTS, [oidArray]),
        tx.unsafe(VIEWS), tx.unsafe(ROUTINES), tx.unsafe(TRIGGERS),
      ]);
      const tables = new Map<string, TableSnapshot>();
      for (const t of tableRows) {
        const estimate = Number(t.estimate);
        const rows = estimate > 0 ? Math.round(estimate) : Number(t.probed ?? 0);
        tables.set(t.oid, { name: `${t.schema}.${t.name}`, rows, columns: [], indexes: [], constraints: [] });
      }
      for (const c of cols) tables.get(c.oid)?.columns.push(column(c));
      for (const i of idx) {
        const def = String(i.def);
        const at = def.indexOf(' USING ');
        tables.get(i.oid)?.indexes.push({ name: i.name, unique: i.uniq === true || i.uniq === 't', definition: at >= 0 ? def.slice(at + 7) : def });
      }
      for (const k of cons) tables.get(k.oid)?.constraints.push({ name: k.name, kind: CONSTRAINT_KINDS[k.type], definition: k.def });
      for (const t of tables.values()) {
        t.indexes.sort(byName);
        t.constraints.sort(byName);
      }
      return {
        engine: 'postgres' as const,
        database: conn.database,
        tables: [...tables.values()].sort(byName),
        views: views
          .map((v) => ({ name: `${v.schema}.${v.name}`, materialized: v.materialized === true || v.materialized === 't', definitionHash: v.hash }))
          .sort(byName),
        routines: routines
          .map((r) => ({
            name: `${r.schema}.${r.name}(${r.args})`,
            kind: r.kind === 'p' ? ('procedure' as const) : ('function' as const),
            returns: r.returns ?? null,
            definitionHash: r.hash,
          }))
          .sort(byName),
        triggers: triggers
          .map((t) => ({ name: t.name, table: `${t.schema}.${t.tbl}`, timing: triggerTiming(Number(t.tgtype)), definitionHash: t.hash }))
          .sort((a, b) => byName({ name: `${a.table}.${a.name}` }, { name: `${b.table}.${b.name}` })),
      };
    });
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/**
 * Empties every user table of the current database, keeping the schema: one TRUNCATE of them all
 * (CASCADE, RESTART IDENTITY resets their sequences), then materialised views are refreshed so they
 * hold what their now empty sources give. Extension tables (e.g. PostGIS's reference data) keep their rows.
 */
export const POSTGRES_EMPTY_TABLES = `DO $myaas$
DECLARE
  tables text;
  mv record;
BEGIN
  SELECT string_agg(format('%I.%I', n.nspname, c.relname), ', ') INTO tables
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r','p') AND ${USER_NS} AND ${notExtension('pg_class', 'c.oid')};
  IF tables IS NOT NULL THEN
    EXECUTE 'TRUNCATE ' || tables || ' RESTART IDENTITY CASCADE';
  END IF;
  FOR mv IN SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'm' AND ${USER_NS} AND ${notExtension('pg_class', 'c.oid')} ORDER BY c.oid LOOP
    EXECUTE format('REFRESH MATERIALIZED VIEW %I.%I', mv.nspname, mv.relname);
  END LOOP;
END
$myaas$`;
