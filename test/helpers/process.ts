// Runs the controller as its own process (`myaas serve` from source), so a test can kill -9 it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { TOKEN } from './controller.js';
import { IMAGES } from './testbed.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export async function freeTcpPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export interface ControllerProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  kill9(): Promise<void>;
}

export async function spawnController(dataDir: string, port: number, env: Record<string, string> = {}): Promise<ControllerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'controller/cli.ts', 'serve'], {
    cwd: ROOT,
    env: {
      ...process.env,
      MYAAS_DATA_DIR: dataDir,
      MYAAS_PORT: String(port),
      MYAAS_HOST: '127.0.0.1',
      MYAAS_PUBLIC_HOST: '127.0.0.1',
      MYAAS_PUBLISH_IP: '127.0.0.1',
      MYAAS_API_TOKENS: TOKEN,
      MYAAS_POSTGRES_IMAGE: IMAGES.postgres,
      MYAAS_MARIADB_IMAGE: IMAGES.mariadb,
      MYAAS_RECONCILE_INTERVAL: '3600',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // tsx compiles the whole controller at start: on a busy 2-core machine that can take a while.
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`controller exited at start (code ${child.exitCode}):\n${out}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`controller did not start within 180 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    output: () => out,
    async api(method, path, body) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Imports `template` through a spawned controller's API and waits until its version is ready (throws if it failed). */
export async function importThrough(c: ControllerProcess, template: string, ms = 300_000): Promise<void> {
  const imp = await c.api('POST', `/api/v1/templates/${template}/import`);
  if (imp.status !== 202) throw new Error(`import of ${template} not accepted: ${imp.status} ${JSON.stringify(imp.body)}`);
  const deadline = Date.now() + ms;
  for (;;) {
    const t = ((await c.api('GET', '/api/v1/templates')).body as any[]).find((x) => x.name === template);
    const v = t?.versions.find((x: any) => x.id === imp.body.version.id);
    if (v?.status === 'failed') throw new Error(`import of ${template} failed: ${v.error}`);
    if (v?.status === 'ready') return;
    if (Date.now() > deadline) throw new Error(`import of ${template} did not finish within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
