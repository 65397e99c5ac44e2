// Masking rules as one MariaDB compound statement, run inside the import server before the version is
// sealed. It first checks every named column (exists, is text where the strategy writes text, is
// nullable for `null`) and fails naming the problems before anything is changed; then one UPDATE per
// table rewrites the masked columns in one transaction. Values come from MD5(CONCAT(salt, value)), the
// same recipe as on PostgreSQL: the same input always gives the same output, so joins still match.
import { MASK_FIRST_NAMES, MASK_LAST_NAMES, TEXT_STRATEGIES, rulesByTable, type MaskRule, type MaskRules } from '../domain/masking.js';
import { mariadbIdent as ident, mariadbLiteral as literal } from './mariadb-schema.js';

const TEXT_TYPES = ['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext'];
// SIGNAL's MESSAGE_TEXT holds at most 512 characters.
const MAX_MESSAGE = 500;

function maskExpression(strategy: MaskRule['strategy'], v: string, salt: string): string | null {
  const h = `MD5(CONCAT(${literal(salt)}, ${v}))`;
  const hex = (from: number, n: number) => `CAST(CONV(SUBSTR(${h}, ${from}, ${n}), 16, 10) AS UNSIGNED)`;
  const pick = (xs: readonly string[], from: number) => `ELT(1 + ${hex(from, 4)} % ${xs.length}, ${xs.map(literal).join(', ')})`;
  switch (strategy) {
    case 'hash':
      return h;
    case 'email':
      return `CONCAT('user_', SUBSTR(${h}, 1, 12), '@example.com')`;
    case 'phone':
      return `CONCAT('+1 555 ', LPAD(${hex(1, 7)} % 10000000, 7, '0'))`;
    case 'name':
      return `CONCAT(${pick(MASK_FIRST_NAMES, 1)}, ' ', ${pick(MASK_LAST_NAMES, 5)})`;
    case 'null':
      return 'NULL';
    case 'keep':
      return null;
  }
}

// Table names are case-sensitive on Linux while information_schema compares without case: BINARY.
// Column names are case-insensitive in MariaDB, so they are compared as the server would.
function checkQuery(rules: MaskRule[], database: string): string {
  const rows = rules.map(
    (r, i) => `SELECT ${i} AS ord, ${literal(r.key)} AS k, ${literal(r.table)} AS t, ${literal(r.column)} AS c, ${literal(r.strategy)} AS strategy`,
  );
  return `SELECT GROUP_CONCAT(CONCAT(r.k, ' (', CASE
      WHEN tb.TABLE_NAME IS NULL THEN 'no such table'
      WHEN col.COLUMN_NAME IS NULL THEN 'no such column'
      WHEN r.strategy = 'null' THEN 'NOT NULL, so it cannot be masked with null'
      ELSE CONCAT('of type ', col.COLUMN_TYPE, ': ', r.strategy, ' needs a text column') END, ')') ORDER BY r.ord SEPARATOR '; ')
    INTO myaas_problems
    FROM (${rows.join(' UNION ALL ')}) AS r
    LEFT JOIN information_schema.TABLES tb ON tb.TABLE_SCHEMA = ${literal(database)} AND tb.TABLE_NAME = BINARY r.t AND tb.TABLE_TYPE = 'BASE TABLE'
    LEFT JOIN information_schema.COLUMNS col ON tb.TABLE_NAME IS NOT NULL
      AND col.TABLE_SCHEMA = ${literal(database)} AND col.TABLE_NAME = BINARY r.t AND col.COLUMN_NAME = r.c
    WHERE col.COLUMN_NAME IS NULL
      OR (r.strategy = 'null' AND col.IS_NULLABLE = 'NO')
      OR (r.strategy IN (${TEXT_STRATEGIES.map(literal).join(', ')}) AND col.DATA_TYPE NOT IN (${TEXT_TYPES.map(literal).join(', ')}))`;
}

/**
 * Two compound statements for `database`: the first only checks the rules and fails (SIGNAL) naming the
 * file and the entries that cannot be applied; the second applies them in one transaction.
 */
export function mariadbMaskingStatements(rules: MaskRules, database: string): [check: string, apply: string] {
  // Local variables shadow column names in MariaDB: ours carry a prefix no column of the rules should have.
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
      declare.push(`DECLARE ${len} BIGINT;`);
      const where = `TABLE_SCHEMA = ${literal(database)} AND TABLE_NAME = BINARY ${literal(r.table)} AND COLUMN_NAME = ${literal(r.column)}`;
      body.push(`SELECT CHARACTER_MAXIMUM_LENGTH INTO ${len} FROM information_schema.COLUMNS WHERE ${where};`);
      sets.push(`${ident(r.column)} = LEFT(${expr}, IFNULL(${len}, 4294967295))`);
    }
    if (sets.length) body.push(`UPDATE ${ident(database)}.${ident(group[0].table)} SET ${sets.join(', ')};`);
  }
  const message = `masking rules ${rules.file} name what this database cannot mask: `;
  const check = `BEGIN NOT ATOMIC
  DECLARE myaas_problems TEXT;
  ${checkQuery(rules.rules, database)};
  IF myaas_problems IS NOT NULL THEN
    SET myaas_problems = CONCAT(${literal(message)}, myaas_problems);
    IF CHAR_LENGTH(myaas_problems) > ${MAX_MESSAGE} THEN
      SET myaas_problems = CONCAT(LEFT(myaas_problems, ${MAX_MESSAGE - 4}), ' ...');
    END IF;
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = myaas_problems;
  END IF;
END`;
  const apply = `BEGIN NOT ATOMIC
  DECLARE myaas_fk_checks INT DEFAULT @@foreign_key_checks;
  ${declare.join('\n  ')}
  -- Both sides of a foreign key are masked alike, so its checks would only get in the way of the order.
  SET foreign_key_checks = 0;
  START TRANSACTION;
  ${body.join('\n  ')}
  COMMIT;
  SET foreign_key_checks = myaas_fk_checks;
END`;
  return [check, apply];
}
