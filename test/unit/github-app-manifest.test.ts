// The pieces of `myaas github-app create` that need no network: arguments, URLs, the manifest,
// the stored configuration and what is printed.
import { describe, expect, it } from 'vitest';
import { apiUrlFor, buildManifest, defaultAppName, installUrl, newAppUrl, normaliseBaseUrl, type CreatedApp } from '../../controller/github/app-manifest.js';
import { nextSteps, parseGitHubAppArgs } from '../../controller/github/app-manifest-cli.js';
import { appConfigEntries } from '../../controller/github/app-manifest-store.js';

const config = (apiUrl = 'https://api.github.com') => ({ dataDir: '/var/lib/myaas', github: { apiUrl } as never });
const APP: CreatedApp = {
  id: 123, slug: 'myaas-db', name: 'myaas-db', owner: 'acme', htmlUrl: 'https://github.com/apps/myaas-db', clientId: 'Iv1.abc',
  pem: '-----BEGIN RSA PRIVATE KEY-----\nMIIsecret\n-----END RSA PRIVATE KEY-----\n', webhookSecret: 'whsec-0123',
};

describe('github-app arguments', () => {
  it('has sensible defaults for github.com', () => {
    expect(parseGitHubAppArgs(['create', '--url', 'https://db.example.com:5001/'], config())).toEqual({
      controllerUrl: 'https://db.example.com:5001',
      githubUrl: 'https://github.com',
      apiUrl: 'https://api.github.com',
      org: null,
      name: 'myaas-db-example-com',
      out: '/var/lib/myaas/secrets/github-app.json',
      defaultOut: true,
      force: false,
      port: 0,
    });
  });

  it('finds a GitHub Enterprise Server API, unless MYAAS_GITHUB_API_URL says otherwise', () => {
    const a = parseGitHubAppArgs(['create', '--url', 'https://c', '--github-url', 'https://ghe.corp/', '--org', 'acme', '--out', 'x.json', '--force', '--port', '8765'], config());
    expect(a).toMatchObject({ githubUrl: 'https://ghe.corp', apiUrl: 'https://ghe.corp/api/v3', org: 'acme', out: 'x.json', defaultOut: false, force: true, port: 8765 });
    expect(parseGitHubAppArgs(['create', '--url', 'https://c', '--github-url', 'https://ghe.corp'], config('https://api.ghe.corp'))?.apiUrl).toBe('https://api.ghe.corp');
    expect(apiUrlFor('https://github.com', 'https://api.github.com')).toBe('https://api.github.com');
  });

  it('asks for help or refuses bad input with a reason', () => {
    expect(parseGitHubAppArgs(['--help'], config())).toBeNull();
    expect(parseGitHubAppArgs(['help'], config())).toBeNull();
    const bad: [string[], RegExp][] = [
      [['create'], /needs --url/],
      [[], /one subcommand, create/],
      [['delete', '--url', 'https://c'], /one subcommand, create/],
      [['create', '--url', 'ftp://c'], /http\(s\) URL/],
      [['create', '--url', 'not a url'], /not a URL/],
      [['create', '--url', 'https://c?x=1'], /query/],
      [['create', '--url', 'https://c', '--org', 'acme corp'], /not a GitHub account name/],
      [['create', '--url', 'https://c', '--name', 'x'.repeat(35)], /34 characters/],
      [['create', '--url', 'https://c', '--port', 'http'], /port number/],
      [['create', '--url', 'https://c', '--colour', 'blue'], /Unknown option/],
    ];
    for (const [argv, re] of bad) expect(() => parseGitHubAppArgs(argv, config()), argv.join(' ')).toThrow(re);
  });

  it('keeps default names within GitHub\'s 34 characters', () => {
    expect(defaultAppName('https://a-very-long-host-name.databases.example.com')).toBe('myaas-a-very-long-host-name-databa');
    expect(defaultAppName('https://a-very-long-host-name.databases.example.com').length).toBeLessThanOrEqual(34);
    expect(defaultAppName('http://10.0.0.5:5001')).toBe('myaas-10-0-0-5');
    expect(normaliseBaseUrl('https://x.org/base/', 'u')).toBe('https://x.org/base');
  });
});

describe('the manifest and its URLs', () => {
  it('asks for exactly what myaas needs', () => {
    const m = buildManifest({ name: 'myaas-db', controllerUrl: 'https://db.example.com', redirectUrl: 'http://127.0.0.1:4000/callback' });
    expect(m).toMatchObject({
      name: 'myaas-db',
      url: 'https://db.example.com',
      hook_attributes: { url: 'https://db.example.com/api/v1/webhooks/github', active: true },
      redirect_url: 'http://127.0.0.1:4000/callback',
      public: false,
      default_permissions: { pull_requests: 'read', issues: 'write', metadata: 'read' },
      default_events: ['pull_request', 'issue_comment'],
    });
  });

  it('posts to the account\'s or the organisation\'s new-App page with the state', () => {
    expect(newAppUrl('https://github.com', null, 'abc')).toBe('https://github.com/settings/apps/new?state=abc');
    expect(newAppUrl('https://ghe.corp', 'acme', 'a+b')).toBe('https://ghe.corp/organizations/acme/settings/apps/new?state=a%2Bb');
    expect(installUrl(APP)).toBe('https://github.com/apps/myaas-db/installations/new');
  });
});

describe('what is stored and what is said', () => {
  it('stores the configuration keys loadConfig reads', () => {
    expect(appConfigEntries(APP, 'https://api.github.com')).toEqual({
      '//': expect.stringContaining('id 123'),
      MYAAS_GITHUB_APP_ID: '123',
      MYAAS_GITHUB_PRIVATE_KEY: APP.pem,
      MYAAS_GITHUB_WEBHOOK_SECRET: 'whsec-0123',
      MYAAS_GITHUB_API_URL: 'https://api.github.com',
    });
    expect(appConfigEntries({ ...APP, webhookSecret: null }, 'x')).not.toHaveProperty('MYAAS_GITHUB_WEBHOOK_SECRET');
  });

  it('prints the next steps and never the key or the secret', () => {
    const args = parseGitHubAppArgs(['create', '--url', 'https://db.example.com'], config());
    const text = nextSteps(args!, APP, '/var/lib/myaas/secrets/github-app.json').join('\n');
    expect(text).toContain('https://github.com/apps/myaas-db/installations/new');
    expect(text).toContain('MYAAS_CONFIG=/var/lib/myaas/secrets/github-app.json');
    expect(text).toContain('https://db.example.com/api/v1/webhooks/github');
    expect(text).not.toContain('MIIsecret');
    expect(text).not.toContain('whsec-0123');
    expect(nextSteps(args!, { ...APP, webhookSecret: null }, 'f').join('\n')).toContain('no webhook secret');
  });
});
