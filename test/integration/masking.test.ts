// Masking rules applied the way an import applies them (a script run with the engine's loadSqlCommand
// inside the server's container) on real servers with the Chinook sample, for both engines; every value
// of every table is compared with a reference computed here from the originals.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MASK_FIRST_NAMES, MASK_LAST_NAMES, parseMaskRules, type MaskRules } from '../../controller/domain/masking.js';
import type { SchemaSnapshot } from '../../controller/domain/schema.js';
import { startEngineServer, type EngineServer } from '../helpers/engine-server.js';
import { chinookSql, requireDocker } from '../helpers/testbed.js';

type Data = Map<string, Record<string, unknown>[]>;

const SALT = "pep'per";
const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');
const hexInt = (h: string, from: number, n: number) => parseInt(h.slice(from - 1, from - 1 + n), 16);

/** What a masked value must be: the recipe of the engines' SQL, written independently here. */
function reference(strategy: string, value: unknown, maxLength: number): unknown {
  if (value === null || strategy === 'null') return null;
  const h = md5(SALT + String(value));
  const full =
    strategy === 'hash' ? h
    : strategy === 'email' ? `user_${h.slice(0, 12)}@example.com`
    : strategy === 'phone' ? `+1 555 ${String(hexInt(h, 1, 7) % 10_000_000).padStart(7, '0')}`
    : `${MASK_FIRST_NAMES[hexInt(h, 1, 4) % MASK_FIRST_NAMES.length]} ${MASK_LAST_NAMES[hexInt(h, 5, 4) % MASK_LAST_NAMES.length]}`;
  return full.slice(0, maxLength);
}

const CASES = {
  postgres: {
    dump: 'postgres' as const,
    database: 'chinook',
    file: 'chinook.mask.json',
    rules: JSON.stringify({
      salt: SALT,
      columns: {
        'customer.email': 'email', 'subscriber.email': 'email', 'customer.first_name': 'name', 'customer.last_name': 'name',
        'customer.phone': 'phone', 'customer.fax': null, 'public.customer.company': 'hash', 'employee.email': 'email', 'customer.address': 'keep',
      },
    }),
    bad: JSON.stringify({ 'customer.email': 'email', 'customer.emial': 'email', 'nosuch.x': 'hash', 'customer.customer_id': 'name', 'customer.first_name': null }),
    badMessage: /masking rules chinook\.mask\.json name what this database cannot mask: customer\.emial \(no such column\); nosuch\.x \(no such table\); customer\.customer_id \(of type integer: name needs a text column\); customer\.first_name \(NOT NULL, so it cannot be masked with null\)/,
    setup: `ALTER TABLE customer ADD CONSTRAINT customer_email_key UNIQUE (email);
      CREATE TABLE subscriber (id integer PRIMARY KEY, email varchar(60) NOT NULL REFERENCES customer (email));
      INSERT INTO subscriber SELECT customer_id, email FROM customer WHERE customer_id % 2 = 0`,
    join: 'SELECT count(*) AS n FROM subscriber s JOIN customer c ON c.email = s.email',
    quote: (t: string) => t.split('.').map((p) => `"${p}"`).join('.'),
    ruleTable: (t: string) => t.replace(/^public\./, ''),
  },
  mariadb: {
    dump: 'mysql' as const,
    database: 'Chinook',
    file: 'chinook.mask.yaml',
    rules: [
      `salt: "${SALT}"`, 'columns:', '  Customer.Email: email', '  Subscriber.Email: email', '  Customer.FirstName: name', '  Customer.LastName: name',
      '  Customer.Phone: phone', '  Customer.Fax: null', '  Customer.Company: hash', '  Employee.Email: email', '  Customer.Address: keep', '',
    ].join('\n'),
    bad: 'Customer.Email: email\nCustomer.Emial: email\nNoSuch.X: hash\nCustomer.CustomerId: name\nCustomer.FirstName: null\n',
    badMessage: /masking rules chinook\.mask\.yaml name what this database cannot mask: Customer\.Emial \(no such column\); NoSuch\.X \(no such table\); Customer\.CustomerId \(of type int\(11\): name needs a text column\); Customer\.FirstName \(NOT NULL, so it cannot be masked with null\)/,
    setup: `ALTER TABLE Customer ADD CONSTRAINT UQ_CustomerEmail UNIQUE (Email);
      CREATE TABLE Subscriber (Id INT PRIMARY KEY, Email NVARCHAR(60) NOT NULL, FOREIGN KEY (Email) REFERENCES Customer (Email));
      INSERT INTO Subscriber SELECT CustomerId, Email FROM Customer WHERE CustomerId % 2 = 0`,
    join: 'SELECT COUNT(*) AS n FROM Subscriber s JOIN Customer c ON c.Email = s.Email',
    quote: (t: string) => `\`${t}\``,
    ruleTable: (t: string) => t,
  },
};

describe.each(['postgres', 'mariadb'] as const)('masking on %s', (engineName) => {
  const c = CASES[engineName];
  let server: EngineServer | undefined;
  let s: EngineServer;
  let schema: SchemaSnapshot;
  let before: Data;
  let joinedBefore: number;

  /** Every row of every table, in primary-key order. */
  async function capture(): Promise<Data> {
    const data: Data = new Map();
    for (const t of schema.tables) {
      const pk = /\((.*)\)/.exec(t.constraints.find((k) => k.kind === 'primary')!.definition)![1];
      data.set(t.name, await s.query(c.database, `SELECT * FROM ${c.quote(t.name)} ORDER BY ${pk}`));
    }
    return data;
  }

  async function runMasking(rules: MaskRules) {
    const file = await s.stage(`mask-${Date.now()}.sql`, s.engine.sqlScript(s.engine.maskingStatements(rules, c.database)));
    return s.exec(s.engine.loadSqlCommand(file, c.database));
  }

  beforeAll(async () => {
    await requireDocker();
    server = await startEngineServer(engineName, 'instance');
    s = server;
    await s.load(await chinookSql(c.dump), 'load');
    await s.execOk(s.engine.loadSqlCommand(await s.stage('setup.sql', `${c.setup};\n`), c.database));
    schema = await s.engine.readSchema(s.conn(c.database));
    before = await capture();
    joinedBefore = Number((await s.query(c.database, c.join))[0].n);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a script run with loadSqlCommand stops at its first error and exits non-zero', async () => {
    const file = await s.stage('broken.sql', 'SELECT 1;\nSELECT * FROM no_such_table;\nCREATE TABLE after_the_error (x int);\n');
    const out = await s.exec(s.engine.loadSqlCommand(file, c.database));
    expect(out.exitCode).not.toBe(0);
    expect(out.stderr).toMatch(/no_such_table/);
    const tables = (await s.engine.readSchema(s.conn(c.database))).tables.map((t) => t.name.split('.').pop());
    expect(tables).toContain(engineName === 'postgres' ? 'customer' : 'Customer');
    expect(tables).not.toContain('after_the_error');
  });

  it('rules naming a missing table or column, or a column the strategy cannot write, fail clearly and change nothing', async () => {
    const out = await runMasking(parseMaskRules(c.file, c.bad, engineName));
    expect(out.exitCode).not.toBe(0);
    // On the last line, where an import's error message (the tail of the tool's output) will have it.
    expect(out.stderr.trim().split('\n').pop()).toMatch(c.badMessage);
    expect(await capture()).toEqual(before);
  });

  it('changes every configured column as specified and nothing else; joins on masked keys still match', async () => {
    const rules = parseMaskRules(c.file, c.rules, engineName);
    const out = await runMasking(rules);
    expect(out.exitCode, out.stderr).toBe(0);
    const after = await capture();
    let masked = 0;
    for (const t of schema.tables) {
      const rows = before.get(t.name)!;
      expect(after.get(t.name)!.length).toBe(rows.length);
      for (const column of t.columns) {
        const rule = rules.rules.find((r) => r.table === c.ruleTable(t.name).split('.').pop() && r.column === column.name && r.strategy !== 'keep');
        const max = Number(/\((\d+)\)/.exec(column.type)?.[1] ?? Infinity);
        const expected = rows.map((r) => (rule ? reference(rule.strategy, r[column.name], max) : r[column.name]));
        const actual = after.get(t.name)!.map((r) => r[column.name]);
        expect([t.name, column.name, actual]).toEqual([t.name, column.name, expected]);
        if (rule) {
          masked++;
          // Every value that was there is gone (none left as it was).
          expect(rows.filter((r, i) => r[column.name] !== null && r[column.name] === actual[i])).toEqual([]);
        }
      }
    }
    expect(masked).toBe(rules.rules.filter((r) => r.strategy !== 'keep').length);
    const joined = Number((await s.query(c.database, c.join))[0].n);
    expect(joinedBefore).toBeGreaterThan(0);
    expect(joined).toBe(joinedBefore);
  });
});
