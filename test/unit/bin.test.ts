// The `myaas` command from a checkout, in every order of steps: before `npm ci`, before `npm run build`,
// and through `npx myaas` run once before the build (npx caches its link to the project then).
// Works on a temp copy of the checkout so the real build/ is neither needed nor touched.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(file: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env: { ...process.env, ...env }, timeout: 540_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('bin/myaas.mjs', () => {
  let dir: string;
  // npx keeps its link to the project in its cache: a cache of the test's own shows the cached case.
  let npmEnv: Record<string, string>;
  const npx = (...args: string[]) => exec('npx', ['--offline', 'myaas', ...args], dir, npmEnv);
  const bin = (...args: string[]) => exec(process.execPath, [join(dir, 'bin/myaas.mjs'), ...args], dir);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'myaas-bin-'));
    await cp(join(ROOT, 'package.json'), join(dir, 'package.json'));
    await cp(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
    npmEnv = { npm_config_cache: join(dir, '.npm-cache'), npm_config_update_notifier: 'false' };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('before npm ci: says to run npm ci and npm run build', async () => {
    const r = await bin('--help');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Run \`npm ci && npm run build\` in ${dir}`);
  });

  it('before the build: says to run npm run build, directly and through npx', async () => {
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const direct = await bin('ls');
    expect(direct.code).toBe(1);
    expect(direct.stderr).toContain('the command is not built yet');
    expect(direct.stderr).toContain(`Run \`npm run build\` in ${dir}`);

    const viaNpx = await npx('--help');
    expect(viaNpx.stderr).not.toMatch(/not found/);
    expect(viaNpx.stderr).toContain(`Run \`npm run build\` in ${dir}`);
    expect(viaNpx.code).toBe(1);
  });

  it('after the build: runs the CLI, also through the npx link cached before the build', async () => {
    // The real build command, with its output in the copy (tsconfig's rootDir keeps build/controller/).
    const tsc = await exec(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(dir, 'build')], ROOT);
    expect(tsc.stderr + tsc.stdout).toBe('');

    const direct = await bin('--help');
    expect(direct.code).toBe(0);
    expect(direct.stdout).toMatch(/^usage: myaas <command>/);

    const viaNpx = await npx('--help');
    // (npm itself may warn on stderr about the machine's npmrc; only the command's own words matter.)
    expect(viaNpx.stderr).not.toMatch(/not found|not built/);
    expect(viaNpx.stdout).toMatch(/^usage: myaas <command>/);
    expect(viaNpx.code).toBe(0);

    // Arguments reach the CLI: an unknown command is its usage error (exit 2), not the bin's.
    const unknown = await npx('no-such-command');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "no-such-command"');
  }, 600_000); // a full tsc build: minutes on a busy 2-core machine
});
