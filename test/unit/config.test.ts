import { describe, expect, it } from 'vitest';
import { loadConfig, parseDuration, parseRepos } from '../../controller/config.js';

describe('config', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(5001);
    expect(c.dataDir).toBe('/var/lib/myaas');
    expect(c.dumpsDir).toBe('/var/lib/myaas/dumps');
    expect(c.storage).toBe('auto');
    expect(c.images).toEqual({ postgres: 'postgres:16', mariadb: 'mariadb:11' });
    expect(c.memoryBytes).toBe(1024 ** 3);
    expect(c.cpus).toBe(1);
    expect(c.instanceTtlSeconds).toBe(0);
    expect(c.databaseUrl).toBeNull();
    expect(c.oidc).toMatchObject({ issuer: 'https://token.actions.githubusercontent.com', audience: 'myaas' });
    expect(c.github.apiUrl).toBe('https://api.github.com');
  });
  it('reads the environment over the config file keys and parses sizes, durations, ranges and repos', () => {
    const c = loadConfig({
      MYAAS_MEMORY_LIMIT: '512m', MYAAS_INSTANCE_TTL: '2h', MYAAS_PORT_RANGE: '20000-20009',
      MYAAS_GITHUB_REPOS: 'Octo/App=chinook+billing,octo/site=chinook', MYAAS_API_TOKENS: 'a, b',
    });
    expect(c.memoryBytes).toBe(512 * 1024 ** 2);
    expect(c.instanceTtlSeconds).toBe(7200);
    expect(c.portRange).toEqual({ from: 20000, to: 20009 });
    expect(c.github.repos).toEqual({ 'octo/app': ['chinook', 'billing'], 'octo/site': ['chinook'] });
    expect(c.apiTokens).toEqual(['a', 'b']);
  });
  it('lists every invalid key in one error', () => {
    expect(() => loadConfig({ MYAAS_STORAGE: 'floppy', MYAAS_PORT: 'x' })).toThrow(/MYAAS_STORAGE[\s\S]*MYAAS_PORT|MYAAS_PORT[\s\S]*MYAAS_STORAGE/);
    expect(() => loadConfig({ MYAAS_PORT_RANGE: '9-1' })).toThrow(/MYAAS_PORT_RANGE/);
    expect(() => parseRepos('octo=chinook')).toThrow(/owner\/repo=template/);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('1d')).toBe(86400);
  });
});
