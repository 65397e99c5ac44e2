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
    expect(c.publicUrl).toMatch(/^http:\/\/[^/]+:5001$/);
    // The OIDC audience is this deployment's own URL unless set: a token minted for another service is refused.
    expect(c.oidc).toMatchObject({ issuer: 'https://token.actions.githubusercontent.com', audience: c.publicUrl });
    expect(c.runTtlSeconds).toBe(3 * 3600);
    expect(c.maxTtlSeconds).toBe(86400);
    expect(c.github.prTtlSeconds).toBe(7 * 86400);
    expect([c.maxInstances, c.maxInstancesPerRepo]).toEqual([100, 25]);
    expect(c.github.apiUrl).toBe('https://api.github.com');
  });
  it('turns the leader lock on with DATABASE_URL, off with MYAAS_LEADER_LOCK=false, and refuses it without a shared state DB', () => {
    expect(loadConfig({}).leaderLock).toBe(false);
    expect(loadConfig({ DATABASE_URL: 'postgres://db/myaas' }).leaderLock).toBe(true);
    expect(loadConfig({ DATABASE_URL: 'postgres://db/myaas', MYAAS_LEADER_LOCK: 'false' }).leaderLock).toBe(false);
    expect(() => loadConfig({ MYAAS_LEADER_LOCK: 'true' })).toThrow(/MYAAS_LEADER_LOCK=true needs DATABASE_URL/);
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
  it('reads template versions and schema-only variants pinned per repository', () => {
    const c = loadConfig({ MYAAS_GITHUB_REPOS: 'octo/app=chinook@v20261121t083015-k3x9+billing:schema' });
    expect(c.github.repos).toEqual({ 'octo/app': ['chinook', 'billing.schema'] });
    expect(c.github.versionPins).toEqual({ 'octo/app': { chinook: 'v20261121t083015-k3x9' } });
    expect(() => loadConfig({ MYAAS_GITHUB_REPOS: 'octo/app=chinook@latest!' })).toThrow(/template\[:schema\]\[@version\]/);
  });
  it('reads repository ids pinned in MYAAS_GITHUB_REPOS', () => {
    const c = loadConfig({ MYAAS_GITHUB_REPOS: 'octo/app@1296269=chinook,octo/site=chinook', MYAAS_PUBLIC_URL: 'https://db.example.com/' });
    expect(c.github.repos).toEqual({ 'octo/app': ['chinook'], 'octo/site': ['chinook'] });
    expect(c.github.repoPins).toEqual({ 'octo/app': 1296269 });
    expect(c.oidc.audience).toBe('https://db.example.com');
  });
  it('lists every invalid key in one error', () => {
    expect(() => loadConfig({ MYAAS_STORAGE: 'floppy', MYAAS_PORT: 'x' })).toThrow(/MYAAS_STORAGE[\s\S]*MYAAS_PORT|MYAAS_PORT[\s\S]*MYAAS_STORAGE/);
    expect(() => loadConfig({ MYAAS_PORT_RANGE: '9-1' })).toThrow(/MYAAS_PORT_RANGE/);
    expect(() => parseRepos('octo=chinook')).toThrow(/owner\/repo\[@repository-id\]=template/);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('1d')).toBe(86400);
  });
});
