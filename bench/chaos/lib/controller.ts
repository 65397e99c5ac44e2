// The controller as its own process (`myaas serve` from source, as test/helpers/process.ts runs it), so
// a campaign can kill -9 it, start it again, and read its memory. Its output goes to a log file; the
// last lines stay in memory for error messages.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const ADMIN_TOKEN = 'chaos-admin-token';
export const WEBHOOK_SECRET = 'chaos-webhook-secret';

export interface ControllerOptions {
  dataDir: string;
  port: number;
  dockerHost: string | null;
  /** where its output is appended */
  logFile: string;
  /** more MYAAS_* settings */
  env?: Record<string, string>;
}

export interface ApiReply<T> {
  status: number;
  body: T;
}

export interface ControllerProc {
  url: string;
  pid: number;
  /** Resolves with the reply; rejects only when the controller cannot be reached. */
  api<T = any>(method: string, path: string, body?: unknown): Promise<ApiReply<T>>;
  /** resident memory in bytes (VmRSS), null once it exited */
  rss(): Promise<number | null>;
  kill9(): Promise<void>;
  /** SIGTERM and wait for the exit; its exit code (null after a signal) */
  stop(): Promise<number | null>;
  exited(): boolean;
  tail(): string;
  /** resolves once it answers /healthz (it has swept and listens); rejects if it exits first */
  ready(timeoutMs?: number): Promise<void>;
}

export function controllerEnv(o: ControllerOptions): Record<string, string> {
  return {
    MYAAS_DATA_DIR: o.dataDir,
    MYAAS_PORT: String(o.port),
    MYAAS_HOST: '127.0.0.1',
    MYAAS_PUBLIC_HOST: '127.0.0.1',
    MYAAS_PUBLISH_IP: '127.0.0.1',
    MYAAS_API_TOKENS: ADMIN_TOKEN,
    MYAAS_GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
    MYAAS_POSTGRES_IMAGE: 'myaas-local/postgres:15',
    MYAAS_MARIADB_IMAGE: 'myaas-local/mariadb:10.11',
    MYAAS_MEMORY_LIMIT: '256m',
    MYAAS_LOG_LEVEL: 'info',
    ...(o.dockerHost ? { DOCKER_HOST: o.dockerHost } : {}),
    ...o.env,
  };
}

/** Starts the controller and waits until it answers /healthz (it has swept and listens). */
export async function startController(o: ControllerOptions, timeoutMs = 120_000): Promise<ControllerProc> {
  const c = spawnController(o);
  await c.ready(timeoutMs);
  return c;
}

/** Starts the controller process; `ready()` waits for it to answer. */
export function spawnController(o: ControllerOptions): ControllerProc {
  const env: NodeJS.ProcessEnv = { ...process.env, ...controllerEnv(o) };
  // Anything of the machine's own engine or caller must not leak in.
  if (!o.dockerHost) delete env.DOCKER_HOST;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'controller/cli.ts', 'serve'], {
    cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: WriteStream = createWriteStream(o.logFile, { flags: 'a' });
  // A line of the harness's own in the controller's log: where each process begins.
  log.write(`${JSON.stringify({ level: 30, time: Date.now(), pid: child.pid, msg: 'harness: controller process started' })}\n`);
  let recent = '';
  const keep = (d: Buffer) => {
    log.write(d);
    recent = (recent + d.toString('utf8')).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((r) =>
    child.once('exit', (code) => {
      exitCode = code;
      log.end();
      r(code);
    }),
  );
  const url = `http://127.0.0.1:${o.port}`;
  return {
    async ready(timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (exitCode !== undefined) throw new Error(`controller exited at start (code ${exitCode}):\n${recent}`);
        const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status === 200 || r.status === 503, () => false);
        if (ok) return;
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          throw new Error(`controller did not answer within ${timeoutMs / 1000} s:\n${recent}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    url,
    pid: child.pid!,
    async api(method, path, body) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(120_000),
      });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = { error: { code: 'not_json', message: text.slice(0, 200) } };
      }
      return { status: res.status, body: parsed as any };
    },
    async rss() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => null);
      const kb = status ? /^VmRSS:\s+([0-9]+) kB/m.exec(status)?.[1] : undefined;
      return kb ? Number(kb) * 1024 : null;
    },
    async kill9() {
      if (exitCode === undefined) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
    exited: () => exitCode !== undefined,
    tail: () => recent,
  };
}
