// MariaDB's structure from information_schema over the wire, as a SchemaSnapshot; and the statement
// that empties every table of a database for a schema-only variant. One database is one schema here,
// so names are unqualified.
import mysql from 'mysql2/promise';
import type { ColumnSnapshot, ConstraintKind, ConstraintSnapshot, IndexSnapshot, SchemaSnapshot, TableSnapshot } from '../domain/schema.js';
import type { EngineConn } from './engine.js';

export const mariadbIdent = (s: string) => `\`${s.replace(/`/g, '``')}\``;
export const mariadbLiteral = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

type Row = Record<string, any>;

const Q = {
  tables: `SELECT TABLE_NAME AS name, TABLE_ROWS AS estimate FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'`,
  columns: `SELECT TABLE_NAME AS tbl, COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS def, EXTRA AS extra
    FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION`,
  indexes: `SELECT TABLE_NAME AS tbl, INDEX_NAME AS name, NON_UNIQUE AS non_unique, INDEX_TYPE AS method, COLUMN_NAME AS col, SUB_PART AS sub, COLLATION AS dir
    FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
  constraints: `SELECT TABLE_NAME AS tbl, CONSTRAINT_NAME AS name, CONSTRAINT_TYPE AS type FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?`,
  keyColumns: `SELECT TABLE_NAME AS tbl, CONSTRAINT_NAME AS name, COLUMN_NAME AS col, REFERENCED_TABLE_SCHEMA AS ref_schema,
      REFERENCED_TABLE_NAME AS ref_table, REFERENCED_COLUMN_NAME AS ref_col
    FROM information_schema.KEY_COLUMN_USAGE WHERE CONSTRAINT_SCHEMA = ? ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`,
  rules: `SELECT TABLE_NAME AS tbl, CONSTRAINT_NAME AS name, UPDATE_RULE AS on_update, DELETE_RULE AS on_delete
    FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?`,
  checks: `SELECT TABLE_NAME AS tbl, CONSTRAINT_NAME AS name, CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?`,
  views: `SELECT TABLE_NAME AS name, MD5(VIEW_DEFINITION) AS hash FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?`,
  routines: `SELECT SPECIFIC_NAME AS name, ROUTINE_TYPE AS kind, DTD_IDENTIFIER AS returns, MD5(ROUTINE_DEFINITION) AS hash
    FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?`,
  params: `SELECT SPECIFIC_NAME AS name, ROUTINE_TYPE AS kind, PARAMETER_MODE AS mode, PARAMETER_NAME AS pname, DTD_IDENTIFIER AS type
    FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA = ? AND ORDINAL_POSITION > 0 ORDER BY SPECIFIC_NAME, ORDINAL_POSITION`,
  triggers: `SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS tbl, ACTION_TIMING AS timing, EVENT_MANIPULATION AS event,
      ACTION_ORIENTATION AS orientation, MD5(ACTION_STATEMENT) AS hash
    FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?`,
};

const KINDS: Record<string, ConstraintKind> = { 'PRIMARY KEY': 'primary', UNIQUE: 'unique', 'FOREIGN KEY': 'foreign', CHECK: 'check' };

function column(r: Row): ColumnSnapshot {
  const extra = String(r.extra ?? '').toLowerCase();
  const generated = extra.includes('auto_increment') ? 'auto_increment'
    : extra.includes('stored generated') ? 'stored'
    : extra.includes('virtual generated') ? 'virtual'
    : null;
  // Since 10.2.7 COLUMN_DEFAULT is the text `NULL` for DEFAULT NULL and SQL NULL for no default: the same for our purpose.
  const def = r.def === null || r.def === 'NULL' || generated === 'stored' || generated === 'virtual' ? null : String(r.def);
  return { name: r.name, type: r.type, nullable: r.nullable === 'YES', default: def, generated };
}

// Definitions are for reading and comparing: names are quoted only where they need it, as PostgreSQL does.
const show = (s: string) => (/^[A-Za-z_][A-Za-z0-9_$]*$/.test(s) ? s : mariadbIdent(s));
const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const list = (xs: string[]) => xs.map(show).join(', ');

/** Reads the structure of conn's database. */
export async function readMariadbSchema(conn: EngineConn): Promise<SchemaSnapshot> {
  const c = await mysql.createConnection({
    host: conn.host, port: conn.port, user: conn.user, password: conn.password, database: conn.database, connectTimeout: 10_000,
  });
  try {
    const db = conn.database;
    const q = async (sql: string) => (await c.query(sql, [db]))[0] as Row[];
    const tables = new Map<string, TableSnapshot>();
    const tableRows = await q(Q.tables);
    for (const t of tableRows) tables.set(t.name, { name: t.name, rows: Number(t.estimate ?? 0), columns: [], indexes: [], constraints: [] });
    // InnoDB's estimate can read 0 for a table with rows (statistics not yet recalculated after a load): count up to 10000.
    const unsure = [...tables.values()].filter((t) => t.rows <= 0);
    if (unsure.length) {
      const probe = unsure
        .map((t) => {
          const count = `SELECT COUNT(*) FROM (SELECT 1 FROM ${mariadbIdent(db)}.${mariadbIdent(t.name)} LIMIT 10000) s`;
          return `SELECT ${mariadbLiteral(t.name)} AS name, (${count}) AS n`;
        })
        .join(' UNION ALL ');
      for (const r of (await c.query(probe))[0] as Row[]) tables.get(r.name)!.rows = Number(r.n);
    }
    for (const r of await q(Q.columns)) tables.get(r.tbl)?.columns.push(column(r));

    const constraintRows = await q(Q.constraints);
    const keyCols = new Map<string, Row[]>();
    for (const k of await q(Q.keyColumns)) keyCols.set(`${k.tbl}.${k.name}`, [...(keyCols.get(`${k.tbl}.${k.name}`) ?? []), k]);
    const fkRules = new Map((await q(Q.rules)).map((r) => [`${r.tbl}.${r.name}`, r]));
    const checks = new Map((await q(Q.checks)).map((r) => [`${r.tbl}.${r.name}`, r.clause as string]));
    const keyIndexes = new Set<string>();
    for (const k of constraintRows) {
      const kind = KINDS[k.type];
      const t = tables.get(k.tbl);
      if (!kind || !t) continue;
      const cols = (keyCols.get(`${k.tbl}.${k.name}`) ?? []).map((r) => r.col as string);
      let definition: string;
      if (kind === 'check') definition = `CHECK (${checks.get(`${k.tbl}.${k.name}`) ?? ''})`;
      else if (kind === 'foreign') {
        const refs = keyCols.get(`${k.tbl}.${k.name}`) ?? [];
        const ref = refs[0];
        const target = ref && ref.ref_schema !== db ? `${show(ref.ref_schema)}.${show(ref.ref_table)}` : show(ref?.ref_table ?? '');
        const rule = fkRules.get(`${k.tbl}.${k.name}`);
        // Spelled out only when not the default, as PostgreSQL's pg_get_constraintdef does.
        const actions = [['DELETE', rule?.on_delete], ['UPDATE', rule?.on_update]]
          .filter(([, a]) => a && a !== 'RESTRICT' && a !== 'NO ACTION')
          .map(([e, a]) => ` ON ${e} ${a}`);
        definition = `FOREIGN KEY (${list(cols)}) REFERENCES ${target}(${list(refs.map((r) => r.ref_col))})${actions.join('')}`;
      } else {
        definition = `${kind === 'primary' ? 'PRIMARY KEY' : 'UNIQUE'} (${list(cols)})`;
        keyIndexes.add(`${k.tbl}.${k.name}`);
      }
      t.constraints.push({ name: k.name, kind, definition } satisfies ConstraintSnapshot);
    }

    // Indexes that implement a primary key or unique constraint are reported as that constraint.
    type Building = { tbl: string; index: IndexSnapshot; parts: string[]; method: string };
    const indexes = new Map<string, Building>();
    for (const r of await q(Q.indexes)) {
      const key = `${r.tbl}.${r.name}`;
      if (keyIndexes.has(key) || !tables.has(r.tbl)) continue;
      const entry: Building = indexes.get(key) ?? {
        tbl: r.tbl,
        index: { name: r.name, unique: Number(r.non_unique) === 0, definition: '' },
        parts: [],
        method: String(r.method ?? '').toLowerCase(),
      };
      entry.parts.push(`${show(r.col)}${r.sub ? `(${r.sub})` : ''}${r.dir === 'D' ? ' DESC' : ''}`);
      indexes.set(key, entry);
    }
    for (const e of indexes.values()) tables.get(e.tbl)!.indexes.push({ ...e.index, definition: `${e.method} (${e.parts.join(', ')})` });
    for (const t of tables.values()) {
      t.indexes.sort(byName);
      t.constraints.sort(byName);
    }

    const params = new Map<string, string[]>();
    for (const p of await q(Q.params)) {
      const key = `${p.kind}.${p.name}`;
      params.set(key, [...(params.get(key) ?? []), `${p.mode && p.mode !== 'IN' ? `${p.mode} ` : ''}${p.pname} ${p.type}`]);
    }
    return {
      engine: 'mariadb',
      database: db,
      tables: [...tables.values()].sort(byName),
      views: (await q(Q.views)).map((v) => ({ name: v.name as string, materialized: false, definitionHash: v.hash as string })).sort(byName),
      routines: (await q(Q.routines))
        .map((r) => ({
          name: `${r.name}(${(params.get(`${r.kind}.${r.name}`) ?? []).join(', ')})`,
          kind: r.kind === 'PROCEDURE' ? ('procedure' as const) : ('function' as const),
          returns: r.kind === 'FUNCTION' ? (r.returns as string) : null,
          definitionHash: r.hash as string,
        }))
        .sort(byName),
      triggers: (await q(Q.triggers))
        .map((t) => ({
          name: t.name as string,
          table: t.tbl as string,
          timing: `${t.timing} ${t.event} FOR EACH ${t.orientation}`,
          definitionHash: t.hash as string,
        }))
        .sort((a, b) => byName({ name: `${a.table}.${a.name}` }, { name: `${b.table}.${b.name}` })),
    };
  } finally {
    await c.end().catch(() => c.destroy());
  }
}

/**
 * Empties every table of `database`, keeping the schema: TRUNCATE each (which also resets its
 * AUTO_INCREMENT), with foreign key checks off so the order does not matter.
 */
export function mariadbEmptyTablesStatement(database: string): string {
  return `BEGIN NOT ATOMIC
  DECLARE done INT DEFAULT 0;
  DECLARE tbl_name VARCHAR(64);
  DECLARE fk_checks INT DEFAULT @@foreign_key_checks;
  DECLARE tables_cursor CURSOR FOR SELECT TABLE_NAME FROM information_schema.TABLES
    WHERE TABLE_SCHEMA = ${mariadbLiteral(database)} AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME;
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = 1;
  SET foreign_key_checks = 0;
  OPEN tables_cursor;
  each_table: LOOP
    FETCH tables_cursor INTO tbl_name;
    IF done THEN LEAVE each_table; END IF;
    EXECUTE IMMEDIATE CONCAT('TRUNCATE TABLE ', ${mariadbLiteral(mariadbIdent(database))}, '.\`', REPLACE(tbl_name, '\`', '\`\`'), '\`');
  END LOOP;
  CLOSE tables_cursor;
  SET foreign_key_checks = fk_checks;
END`;
}
