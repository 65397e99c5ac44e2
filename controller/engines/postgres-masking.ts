// Masking rules as one PostgreSQL DO block, run inside the import server before the version is sealed.
// It first checks every named column (exists, is text where the strategy writes text, is nullable for
// `null`) and fails naming all problems before anything is changed; then one UPDATE per table rewrites
// the masked columns. Values come from md5(salt || value): the same input always gives the same output,
// so joins on masked columns still match, and no extension is needed.
import { MASK_FIRST_NAMES, MASK_LAST_NAMES, TEXT_STRATEGIES, rulesByTable, type MaskRule, type MaskRules } from '../domain/masking.js';

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;
const array = (xs: readonly string[]) => `ARRAY[${xs.map(literal).join(',')}]`;

/** A DO block around `body`, dollar-quoted with a tag that names or the salt in the body cannot end early. */
function doBlock(body: string): string {
  let tag = '$myaas$';
  for (let i = 1; body.includes(tag); i++) tag = `$myaas${i}$`;
  return `DO ${tag}\n${body}\n${tag}`;
}

/** The masked value of `v` (text) for a strategy, or null for `keep`; NULL stays NULL. */
function maskExpression(strategy: MaskRule['strategy'], v: string, salt: string): string | null {
  const h = `md5(${literal(salt)} || ${v})`;
  // n hex digits of the hash as a non-negative integer
  const hex = (from: number, n: number) => `('x' || substr(${h}, ${from}, ${n}))::bit(${4 * n})::int`;
  const pick = (xs: readonly string[], from: number) => `(${array(xs)})[1 + ${hex(from, 4)} % ${xs.length}]`;
  switch (strategy) {
    case 'hash':
      return h;
    case 'email':
      return `'user_' || substr(${h}, 1, 12) || '@example.com'`;
    case 'phone':
      return `'+1 555 ' || lpad((${hex(1, 7)} % 10000000)::text, 7, '0')`;
    case 'name':
      return `${pick(MASK_FIRST_NAMES, 1)} || ' ' || ${pick(MASK_LAST_NAMES, 5)}`;
    case 'null':
      return 'NULL';
    case 'keep':
      return null;
  }
}

/** Why each rule cannot be applied, as a VALUES-driven query; one text row listing them, or none. */
function checkQuery(rules: MaskRule[]): string {
  const values = rules.map((r, i) => `(${[String(i), ...[r.key, r.schema ?? 'public', r.table, r.column, r.strategy].map(literal)].join(', ')})`);
  const textStrategies = TEXT_STRATEGIES.map(literal).join(', ');
  return `SELECT string_agg(r.key || ' (' || CASE
      WHEN t.table_name IS NULL THEN 'no such table'
      WHEN c.column_name IS NULL THEN 'no such column'
      WHEN r.strategy = 'null' THEN 'NOT NULL, so it cannot be masked with null'
      ELSE 'of type ' || c.data_type || ': ' || r.strategy || ' needs a text column' END || ')', '; ' ORDER BY r.ord)
    FROM (VALUES ${values.join(', ')}) AS r(ord, key, s, t, c, strategy)
    LEFT JOIN information_schema.tables t ON t.table_schema = r.s AND t.table_name = r.t AND t.table_type = 'BASE TABLE'
    LEFT JOIN information_schema.columns c ON t.table_name IS NOT NULL AND c.table_schema = r.s AND c.table_name = r.t AND c.column_name = r.c
    WHERE c.column_name IS NULL
      OR (r.strategy = 'null' AND c.is_nullable = 'NO')
      OR (r.strategy IN (${textStrategies}) AND c.data_type NOT IN ('text', 'character varying', 'character'))`;
}

/**
 * Two DO blocks for the current database: the first only checks the rules and raises an error naming
 * the file and every entry that cannot be applied; the second applies them.
 */
export function postgresMaskingStatements(rules: MaskRules): [check: string, apply: string] {
  const declare: string[] = [];
  const body: string[] = [];
  let n = 0;
  for (const group of rulesByTable(rules.rules)) {
    const sets: string[] = [];
    for (const r of group) {
      const expr = maskExpression(r.strategy, ident(r.column), rules.salt);
      if (expr === null) continue;
      if (r.strategy === 'null') {
        sets.push(`${ident(r.column)} = NULL`);
        continue;
      }
      // Masked text is cut to the column's length (varchar(20) holds no 29-character email).
      const len = `myaas_len_${n++}`;
      declare.push(`${len} integer;`);
      const where = `table_schema = ${literal(r.schema ?? 'public')} AND table_name = ${literal(r.table)} AND column_name = ${literal(r.column)}`;
      body.push(`SELECT character_maximum_length INTO ${len} FROM information_schema.columns WHERE ${where};`);
      sets.push(`${ident(r.column)} = left(${expr}, coalesce(${len}, 2147483647))`);
    }
    if (sets.length) body.push(`UPDATE ${ident(group[0].schema ?? 'public')}.${ident(group[0].table)} SET ${sets.join(', ')};`);
  }
  const message = `masking rules ${rules.file} name what this database cannot mask: `;
  const check = doBlock(`DECLARE
  problems text;
BEGIN
  ${checkQuery(rules.rules)} INTO problems;
  IF problems IS NOT NULL THEN
    RAISE EXCEPTION USING MESSAGE = ${literal(message)} || problems;
  END IF;
END`);
  const apply = doBlock(`DECLARE
  ${declare.join('\n  ')}
BEGIN
  -- Both sides of a foreign key are masked alike; no need for its checks (nor user triggers) to fire.
  PERFORM set_config('session_replication_role', 'replica', true);
  ${body.join('\n  ')}
END`);
  return [check, apply];
}
