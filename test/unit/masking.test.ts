import { describe, expect, it } from 'vitest';
import { AppError } from '../../controller/domain/errors.js';
import { maskFileNames, parseMaskRules, rulesByTable } from '../../controller/domain/masking.js';
import { createEngine } from '../../controller/engines/index.js';
import { systemClock } from '../../controller/lib/clock.js';
import { mariadbMaskingStatements } from '../../controller/engines/mariadb-masking.js';
import { postgresMaskingStatements } from '../../controller/engines/postgres-masking.js';

describe('parseMaskRules', () => {
  it('reads a flat JSON map; table.column means schema public on PostgreSQL', () => {
    const r = parseMaskRules('shop.mask.json', JSON.stringify({ 'customer.email': 'email', 'billing.invoice.phone': 'phone', 'customer.fax': null }), 'postgres');
    expect(r).toEqual({
      file: 'shop.mask.json',
      salt: '',
      rules: [
        { key: 'customer.email', schema: 'public', table: 'customer', column: 'email', strategy: 'email' },
        { key: 'billing.invoice.phone', schema: 'billing', table: 'invoice', column: 'phone', strategy: 'phone' },
        { key: 'customer.fax', schema: 'public', table: 'customer', column: 'fax', strategy: 'null' },
      ],
    });
  });

  it('reads YAML, where a bare null is the null strategy, and the form with a salt', () => {
    const yaml = 'salt: "pepper"\ncolumns:\n  Customer.Email: email\n  Customer.Fax: null\n  Customer.Company: keep\n';
    const r = parseMaskRules('shop.mask.yaml', yaml, 'mariadb');
    expect(r.salt).toBe('pepper');
    expect(r.rules.map((x) => [x.schema, x.table, x.column, x.strategy])).toEqual([
      [null, 'Customer', 'Email', 'email'],
      [null, 'Customer', 'Fax', 'null'],
      [null, 'Customer', 'Company', 'keep'],
    ]);
    expect(parseMaskRules('x.mask.yml', 'a.b: hash\n', 'postgres').rules[0].strategy).toBe('hash');
  });

  it.each([
    ['s.mask.json', '{"customer.email": "scramble"}', 'postgres', /^masking rules s\.mask\.json: "customer\.email": unknown strategy "scramble" \(use one of email, name, phone, hash, null, keep\)$/],
    ['s.mask.json', '{"customer.email": 3}', 'postgres', /"customer\.email": unknown strategy 3/],
    ['s.mask.json', '{"email": "email"}', 'postgres', /"email" is not `table\.column` or `schema\.table\.column`/],
    ['s.mask.json', '{"a.b.c.d": "email"}', 'postgres', /"a\.b\.c\.d" is not/],
    ['s.mask.json', '{"db.customer.email": "email"}', 'mariadb', /"db\.customer\.email" is not `table\.column`$/],
    ['s.mask.json', '{"cust\\"omer.email": "email"}', 'postgres', /"cust\\"omer" is not a usable name/],
    ['s.mask.json', '{"customer..email": "email"}', 'postgres', /"" is not a usable name/],
    ['s.mask.json', '{"customer.email": "email", "public.customer.email": "hash"}', 'postgres', /"public\.customer\.email" names the same column as "customer\.email"/],
    ['s.mask.json', '{}', 'postgres', /no columns named/],
    ['s.mask.json', '["customer.email"]', 'postgres', /expected an object/],
    ['s.mask.json', '{"customer.email": "email",}', 'postgres', /^masking rules s\.mask\.json: not valid JSON/],
    ['s.mask.yaml', 'a.b: [unclosed\n', 'postgres', /^masking rules s\.mask\.yaml: not valid YAML/],
    ['s.mask.yaml', 'a.b: email\na.b: hash\n', 'postgres', /not valid YAML/],
    ['s.mask.json', '{"columns": {"a.b": "hash"}, "pepper": "x"}', 'postgres', /unknown key "pepper" next to "columns"/],
    ['s.mask.json', '{"columns": {"a.b": "hash"}, "salt": 42}', 'postgres', /"salt" must be a string/],
    ['s.mask.json', '{"columns": "a.b"}', 'postgres', /"columns" must be an object/],
  ] as const)('%s %s (%s) is refused', (file, text, engine, message) => {
    let err: unknown;
    try {
      parseMaskRules(file, text, engine);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('import_failed');
    expect((err as AppError).message).toMatch(message);
  });

  it('knows where the rules of a template live and groups rules by table', () => {
    expect(maskFileNames('chinook')).toEqual(['chinook.mask.json', 'chinook.mask.yaml', 'chinook.mask.yml']);
    const r = parseMaskRules('x.mask.json', '{"a.x": "hash", "b.y": "hash", "a.z": "email"}', 'postgres');
    expect(rulesByTable(r.rules).map((g) => g.map((x) => x.key))).toEqual([['a.x', 'a.z'], ['b.y']]);
  });
});

describe('masking statements', () => {
  const pg = parseMaskRules("it's.mask.json", JSON.stringify({ columns: { 'customer.email': 'email', 'customer.company': 'keep', 'my schema.order items.note': 'hash' }, salt: "o'brien" }), 'postgres');
  const my = parseMaskRules('x.mask.json', JSON.stringify({ columns: { 'Customer.Email': 'email', 'Customer.Company': 'keep' }, salt: "back\\slash'" }), 'mariadb');

  it('check first, naming every rule including keep; apply quotes names and literals', () => {
    const [check, apply] = postgresMaskingStatements(pg);
    for (const key of ['customer.email', 'customer.company', 'my schema.order items.note']) expect(check).toContain(`'${key}'`);
    expect(check).toContain("'masking rules it''s.mask.json name what this database cannot mask: '");
    expect(apply).toContain('UPDATE "my schema"."order items" SET "note" = left(md5(\'o\'\'brien\' || "note")');
    expect(apply).toMatch(/UPDATE "public"\."customer" SET "email" = left\('user_' \|\| substr\(md5\('o''brien' \|\| "email"\), 1, 12\) \|\| '@example\.com'/);
    expect(apply).not.toContain('"company"');
  });

  it('does the same for MariaDB, with the database named and backslashes escaped', () => {
    const [check, apply] = mariadbMaskingStatements(my, 'Chi`nook');
    expect(check).toContain("TABLE_SCHEMA = 'Chi`nook'");
    expect(check).toContain("'Customer.Company' AS k");
    expect(apply).toContain("UPDATE `Chi``nook`.`Customer` SET `Email` = LEFT(CONCAT('user_', SUBSTR(MD5(CONCAT('back\\\\slash''', `Email`)), 1, 12), '@example.com')");
    expect(apply).not.toContain('`Company`');
  });

  it('quotes DO blocks and picks a client delimiter that no name or salt inside can end early', () => {
    const [check, apply] = postgresMaskingStatements(parseMaskRules('x.mask.json', '{"t.a$myaas$b": "hash"}', 'postgres'));
    for (const block of [check, apply]) expect(block).toMatch(/^DO \$myaas1\$\n[^]*\n\$myaas1\$$/);
    expect(createEngine('postgres', systemClock()).sqlScript(['SELECT 1', 'SELECT 2'])).toBe('\\set VERBOSITY terse\nSELECT 1;\nSELECT 2;\n');
    expect(createEngine('mariadb', systemClock()).sqlScript(["SELECT '$myaas$'", 'SELECT 2'])).toBe("DELIMITER $myaas1$\nSELECT '$myaas$'\n$myaas1$\nSELECT 2\n$myaas1$\nDELIMITER ;\n");
  });
});
