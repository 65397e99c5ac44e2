// Running a program: an argument list, never a shell string. host/command.ts implements it.

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** Runs a program with an argument list. Rejects with its stderr on a non-zero exit. */
export interface CommandRunner {
  run(file: string, args: string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
}
