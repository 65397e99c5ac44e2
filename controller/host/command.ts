// The one place that starts programs for the storage drivers: execFile with an argument list,
// so no path or name ever passes through a shell.
import { execFile } from 'node:child_process';
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

export function createCommandRunner(): CommandRunner {
  return {
    async run(file: string, args: string[], opts?: { timeoutMs?: number }): Promise<ExecResult> {
      try {
        const { stdout, stderr } = await execFileAsync(file, args, {
          encoding: 'utf8',
          maxBuffer: MAX_BUFFER,
          timeout: opts?.timeoutMs ?? 0,
          windowsHide: true,
        });
        return { stdout, stderr };
      } catch (e) {
        throw toCommandError(file, args, e as ExecFailure, opts?.timeoutMs);
      }
    },
  };
}
