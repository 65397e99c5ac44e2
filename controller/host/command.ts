// The one place that starts programs for the storage drivers: execFile with an argument list,
// so no path or name ever passes through a shell.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import type { CommandRunner, ExecResult } from '../domain/command.js';

const execFileAsync = promisify(execFile);

// `btrfs`, `cp` and `chattr` print little, but a failing `cp -a` over a large datadir can
// print one line per file; the default 1 MiB would turn that into a confusing maxBuffer error.
const MAX_BUFFER = 64 * 1024 * 1024;
// Long stderr (one line per file) would drown the message users see; keep its head.
const MAX_STDERR_IN_MESSAGE = 2000;

/** A failed command: what ran, how it ended, and what it said. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly signal: string | null,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

interface ExecFailure {
  code?: number | string;
  signal?: string | null;
  killed?: boolean;
  stderr?: string | Buffer;
  message?: string;
}

function describe(file: string, args: readonly string[]): string {
  return [file, ...args].join(' ');
}

function shorten(text: string): string {
  const t = text.trim();
  return t.length > MAX_STDERR_IN_MESSAGE ? `${t.slice(0, MAX_STDERR_IN_MESSAGE)} …` : t;
}

function toCommandError(file: string, args: string[], e: ExecFailure, timeoutMs?: number): CommandError {
  const cmd = describe(file, args);
  const stderr = shorten(String(e.stderr ?? ''));
  const said = stderr ? `: ${stderr}` : '';
  const fail = (message: string, exitCode: number | null = null) =>
    new CommandError(message, file, args, exitCode, e.signal ?? null, stderr);
  if (e.code === 'ENOENT') {
    return fail(`${file} not found on PATH: install it (btrfs-progs, e2fsprogs, coreutils) or fix PATH`);
  }
  if (typeof e.code === 'string') return fail(`${cmd} failed (${e.code}): ${e.message ?? ''}`.trim());
  if (e.killed && timeoutMs && e.signal) return fail(`${cmd} timed out after ${timeoutMs} ms and was killed${said}`);
  if (typeof e.code === 'number') return fail(`${cmd} failed (exit code ${e.code})${said}`, e.code);
  return fail(`${cmd} was killed by signal ${e.signal ?? 'unknown'}${said}`);
}

/** Runs `file` with `args` from this process, as execFile does. */
async function runHere(file: string, args: string[], timeoutMs: number): Promise<ExecResult> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, { encoding: 'utf8', maxBuffer: MAX_BUFFER, timeout: timeoutMs, windowsHide: true });
    return { stdout, stderr };
  } catch (e) {
    throw toCommandError(file, args, e as ExecFailure, timeoutMs || undefined);
  }
}

// Starting a program from the controller costs what copying its memory map costs: Node starts
// children with fork(), and the controller holds hundreds of MB (PGlite's WebAssembly memory above
// all), so each start took ~40–50 ms of the event loop here against ~2 ms from a small process, and
// a clone's quota commands held up its container's start by ~100 ms. So the programs are started by
// a small helper process (plain Node, no loader, nothing but this loop), started once; it ends when
// the controller does (its IPC channel closes), also after a kill -9.
const HELPER = `
const { execFile } = require('node:child_process');
process.on('disconnect', () => process.exit(0));
process.on('message', (m) => {
  execFile(m.file, m.args, { encoding: 'utf8', maxBuffer: m.maxBuffer, timeout: m.timeoutMs, windowsHide: true }, (err, stdout, stderr) => {
    const error = err ? { code: err.code, signal: err.signal || null, killed: !!err.killed, message: String(err.message || '') } : null;
    if (process.connected) process.send({ id: m.id, error, stdout: String(stdout || ''), stderr: String(stderr || '') });
  });
});
`;

interface HelperReply {
  id: number;
  error: (ExecFailure & { signal: string | null }) | null;
  stdout: string;
  stderr: string;
}

interface Pending {
  file: string;
  args: string[];
  timeoutMs: number;
  resolve: (r: ExecResult) => void;
  reject: (e: Error) => void;
}

function createHelper(): { run(file: string, args: string[], timeoutMs: number): Promise<ExecResult>; close(): void } {
  let child: ChildProcess | null = null;
  let seq = 0;
  const pending = new Map<number, Pending>();

  /** The helper holds the controller's event loop open only while a program of ours runs. */
  const hold = (c: ChildProcess, on: boolean) => {
    const ch = c.channel as { ref?: () => void; unref?: () => void } | undefined;
    if (on) {
      c.ref();
      ch?.ref?.();
    } else {
      c.unref();
      ch?.unref?.();
    }
  };

  function start(): ChildProcess {
    const env = { ...process.env };
    delete env.NODE_OPTIONS; // no loader (tsx) in the helper: it must stay small
    const c = spawn(process.execPath, ['-e', HELPER], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env, windowsHide: true });
    c.on('message', (m: HelperReply) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (pending.size === 0) hold(c, false);
      if (m.error) p.reject(toCommandError(p.file, p.args, { ...m.error, stderr: m.stderr }, p.timeoutMs || undefined));
      else p.resolve({ stdout: m.stdout, stderr: m.stderr });
    });
    const gone = (why: string) => {
      if (child === c) child = null;
      // What was asked of it may or may not have run: its callers see a failure and act as on any.
      for (const [id, p] of pending) {
        pending.delete(id);
        p.reject(new CommandError(`${describe(p.file, p.args)}: the process that starts programs for the controller ${why}; try again`, p.file, p.args, null, null, ''));
      }
    };
    c.on('exit', (code, signal) => gone(`exited (${signal ?? `exit code ${code}`})`));
    c.on('error', (e) => gone(`failed: ${e.message}`));
    hold(c, false);
    return c;
  }

  return {
    close() {
      // It exits once its channel closes; programs it started meanwhile finish on their own.
      if (child?.connected) child.disconnect();
      child = null;
    },
    run(file, args, timeoutMs) {
      const c = (child ??= start());
      const id = ++seq;
      return new Promise<ExecResult>((resolve, reject) => {
        pending.set(id, { file, args, timeoutMs, resolve, reject });
        hold(c, true);
        c.send({ id, file, args, timeoutMs, maxBuffer: MAX_BUFFER }, (e) => {
          if (!e || !pending.has(id)) return;
          pending.delete(id);
          if (pending.size === 0) hold(c, false);
          // The helper cannot be reached (it is exiting): run the program from here instead.
          runHere(file, args, timeoutMs).then(resolve, reject);
        });
      });
    },
  };
}

/**
 * The controller's runner: programs start in the helper process described above. `direct: true`
 * starts them from this process (one-off commands of the CLI, where a helper would cost more).
 */
export function createCommandRunner(opts: { direct?: boolean } = {}): CommandRunner & { close(): void } {
  const helper = opts.direct ? null : createHelper();
  return {
    close: () => helper?.close(),
    run(file: string, args: string[], o?: { timeoutMs?: number }): Promise<ExecResult> {
      const timeoutMs = o?.timeoutMs ?? 0;
      return helper ? helper.run(file, args, timeoutMs) : runHere(file, args, timeoutMs);
    },
  };
}
