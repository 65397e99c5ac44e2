// The files in deploy/ as their own tools read them: docker-compose resolves compose.yaml from the
// environment (no engine needed), and systemd-analyze checks the unit files. The running image is
// test/integration/image.test.ts's business.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function exec(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${file} is not installed; run sudo scripts/setup-host.sh`);
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

// Only what the test sets, so the caller's MYAAS_* never leak in.
const config = (env: Record<string, string>) =>
  exec('docker-compose', ['-f', 'deploy/compose.yaml', 'config'], { PATH: process.env.PATH, HOME: process.env.HOME, ...env });

describe('deploy/compose.yaml', () => {
  it('takes its settings from the environment, with the documented defaults', async () => {
    const r = await config({ MYAAS_API_TOKENS: 'a,b' });
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toContain('image: myaas:local');
    expect(out).toContain('network_mode: host');
    expect(out).toContain('restart: unless-stopped');
    expect(out).toMatch(/cap_add:\n\s+- SYS_ADMIN\n\s+- LINUX_IMMUTABLE/);
    expect(out).not.toContain('privileged');
    expect(out).toContain('- /var/lib/myaas:/var/lib/myaas:rw');
    expect(out).toContain('- /var/lib/myaas/dumps:/var/lib/myaas/dumps:ro');
    expect(out).toContain('- /var/run/docker.sock:/var/run/docker.sock');
    expect(out).toContain("MYAAS_PORT: '5001'");
    expect(out).toContain('MYAAS_API_TOKENS: a,b');
    expect(out).toContain('MYAAS_POSTGRES_IMAGE: postgres:16');
    expect(out).toContain('MYAAS_MARIADB_IMAGE: mariadb:11');
  });

  it('puts every given setting where the controller reads it, at the same paths inside and out', async () => {
    const r = await config({
      MYAAS_API_TOKENS: 't',
      MYAAS_DATA_DIR: '/srv/pool',
      MYAAS_DUMPS_DIR: '/srv/dumps',
      MYAAS_PORT: '6001',
      MYAAS_PUBLIC_HOST: 'db.example.com',
      MYAAS_POSTGRES_IMAGE: 'myaas-local/postgres:15',
      MYAAS_MARIADB_IMAGE: 'myaas-local/mariadb:10.11',
      MYAAS_GITHUB_REPOS: 'octo/app=chinook',
    });
    expect(r.code, r.stderr).toBe(0);
    for (const line of [
      '- /srv/pool:/srv/pool:rw',
      '- /srv/dumps:/srv/dumps:ro',
      'MYAAS_DATA_DIR: /srv/pool',
      'MYAAS_DUMPS_DIR: /srv/dumps',
      "MYAAS_PORT: '6001'",
      'MYAAS_URL: http://127.0.0.1:6001',
      'MYAAS_PUBLIC_HOST: db.example.com',
      'MYAAS_POSTGRES_IMAGE: myaas-local/postgres:15',
      'MYAAS_MARIADB_IMAGE: myaas-local/mariadb:10.11',
      'MYAAS_GITHUB_REPOS: octo/app=chinook',
    ]) expect(r.stdout).toContain(line);
  });

  it('refuses to start without API tokens, saying which variable to set', async () => {
    const r = await config({});
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('set MYAAS_API_TOKENS');
  });
});

describe('deploy/systemd', () => {
  it('has unit files systemd accepts', async () => {
    const r = await exec('systemd-analyze', ['verify', 'deploy/systemd/myaas.service', 'deploy/systemd/var-lib-myaas.mount'], process.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
