// Interfaces for side effects that several layers share. Implementations live with their layer.

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** Runs a program with an argument list (never a shell string). Rejects with stderr on non-zero exit. */
export interface CommandRunner {
  run(file: string, args: string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
}

/** Minimal logger shape (pino satisfies it) so that lower layers need not import pino. */
export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}
