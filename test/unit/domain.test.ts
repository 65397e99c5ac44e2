import { describe, expect, it } from 'vitest';
import { AppError } from '../../controller/domain/errors.js';
import { assertInstanceName, assertTemplateName } from '../../controller/domain/names.js';
import { assertOwner, defaultInstanceName, formatOwner, parseOwner, poolOwner } from '../../controller/domain/owner.js';
import { planDatabase, tail } from '../../controller/domain/templates.js';

describe('names', () => {
  it('accepts template and instance names that are safe in paths, labels and SQL', () => {
    expect(assertTemplateName('chinook')).toBe('chinook');
    expect(assertTemplateName('chinook_v2-big')).toBe('chinook_v2-big');
    expect(assertInstanceName('pr-12-chinook')).toBe('pr-12-chinook');
  });
  it.each(['', 'Chinook', '../x', 'a/b', 'a b', '-x', 'x'.repeat(49), "x'; drop"])('refuses template name %j', (n) => {
    expect(() => assertTemplateName(n)).toThrow(AppError);
  });
  it.each(['under_score', 'UP', '../etc', ''])('refuses instance name %j', (n) => {
    expect(() => assertInstanceName(n)).toThrow(/invalid instance name/);
  });
  it('derives readable default instance names', () => {
    expect(defaultInstanceName(assertOwner('gh:octo/app#12'), 'chinook')).toBe('octo-app-pr-12-chinook');
    expect(defaultInstanceName(assertOwner('gh:octo/app@run-55-1'), 'big_data')).toBe('octo-app-run-55-1-big-data');
    expect(defaultInstanceName(assertOwner('api:Alice'), 'chinook')).toBe('alice-chinook');
  });
  it('keeps the names of pull requests of different repositories apart, also when shortened', () => {
    // Issue 9: octo/app#12 and octo/site#12 got the same name and the second one failed.
    expect(defaultInstanceName(assertOwner('gh:octo/app#12'), 'chinook')).not.toBe(defaultInstanceName(assertOwner('gh:octo/site#12'), 'chinook'));
    const a = defaultInstanceName(assertOwner('gh:a-very-long-organisation-name/and-a-long-repository-name#12345'), 'chinook');
    const b = defaultInstanceName(assertOwner('gh:a-very-long-organisation-name/and-a-long-repository-nam2#12345'), 'chinook');
    expect(a).not.toBe(b);
    for (const n of [a, b]) expect(() => assertInstanceName(n)).not.toThrow();
    expect(a.length).toBeLessThanOrEqual(48);
  });
});

describe('planDatabase', () => {
  it('uses the load database when the dump filled it, renaming it to the template where possible', () => {
    expect(planDatabase('myaas_load', 'shop', [{ name: 'myaas_load', tables: 4 }], true)).toEqual({
      database: 'shop', drop: [], rename: { from: 'myaas_load', to: 'shop' },
    });
    expect(planDatabase('shop', 'shop', [{ name: 'shop', tables: 4 }], false)).toEqual({ database: 'shop', drop: [], rename: null });
  });
  it('follows a dump that created and switched to its own database, dropping the empty load database', () => {
    expect(planDatabase('myaas_load', 'chinook', [{ name: 'chinook', tables: 11 }, { name: 'myaas_load', tables: 0 }], true)).toEqual({
      database: 'chinook', drop: ['myaas_load'], rename: null,
    });
    // MariaDB: the template is `chinook-my`, the dump made `Chinook`.
    expect(planDatabase('chinook-my', 'chinook-my', [{ name: 'Chinook', tables: 11 }, { name: 'chinook-my', tables: 0 }], false)).toEqual({
      database: 'Chinook', drop: ['chinook-my'], rename: null,
    });
  });
  it('prefers the template-named database, then the fullest one', () => {
    const dbs = [{ name: 'a', tables: 2 }, { name: 'b', tables: 9 }, { name: 'load', tables: 0 }];
    expect(planDatabase('load', 'x', dbs, true).database).toBe('b');
    expect(planDatabase('load', 'a', dbs, true).database).toBe('a');
  });
  it('keeps an empty load database when nothing else exists (an empty dump)', () => {
    expect(planDatabase('load', 'load', [{ name: 'load', tables: 0 }], true)).toEqual({ database: 'load', drop: [], rename: null });
  });
  it('tail keeps the last lines of tool output', () => {
    expect(tail('a\nb\nc\nd', 2)).toBe('c\nd');
  });
});

describe('owner keys', () => {
  it('reads and writes the four forms, unchanged', () => {
    for (const k of ['gh:octo/app#12', 'gh:octo/app@run-55-1', 'gh:octo/app@run-55', 'api:alice', 'api:ci@example.com', 'pool:iabc123def456']) {
      expect(formatOwner(assertOwner(k))).toBe(k);
    }
    expect(parseOwner('gh:octo/app#12')).toEqual({ kind: 'pull', repo: 'octo/app', number: 12 });
    expect(parseOwner('gh:octo/app@run-55-2')).toEqual({ kind: 'run', repo: 'octo/app', runId: '55', attempt: '2' });
    expect(parseOwner('pool:iabc')).toEqual({ kind: 'pool', id: 'iabc' });
    expect(formatOwner(poolOwner('iabc123def456'))).toBe('pool:iabc123def456');
  });
  it('lowercases repositories, as GitHub names are case-insensitive', () => {
    expect(formatOwner(assertOwner('gh:Octo/App#3'))).toBe('gh:octo/app#3');
  });
  it.each(['gh:octo#1', 'octo/app#1', 'api:', 'gh:o/r#x', 'pool:', 'pool:../x', 'gh:o/r@run-x', ''])('refuses %j', (k) => {
    expect(() => assertOwner(k)).toThrow(AppError);
    expect(parseOwner(k)).toBeNull();
  });
});
