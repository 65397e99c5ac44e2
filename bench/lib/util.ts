// Small shared helpers of the benchmark: progress output, statistics, commands, formatting.
import os from 'node:os';
import { createCommandRunner } from '../../controller/host/command.js';

// The bench process holds an in-process controller (and its PGlite memory): programs started from it
// directly would pay for copying that memory map (~40–50 ms each), which the floor's plain commands,
// typed in a shell, do not. They start from the controller's small helper process instead.
const runner = createCommandRunner();
const started = Date.now();

/** Progress line with wall clock and time since the bench started. */
export function say(msg: string): void {
  const now = new Date();
  const clock = now.toTimeString().slice(0, 8);
  const since = ((now.getTime() - started) / 1000).toFixed(1).padStart(7);
  process.stdout.write(`[bench ${clock} +${since}s] ${msg}\n`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** A command with an argument list (never a shell); resolves with stdout. */
export async function cmd(file: string, args: string[], timeoutMs = 0): Promise<string> {
  const { stdout } = await runner.run(file, args, { timeoutMs });
  return stdout;
}

export interface Stats {
  n: number;
  min: number;
  median: number;
  p95: number;
  max: number;
  mean: number;
}

/** Linear interpolation between closest ranks, as most tools compute percentiles. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function stats(values: number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    n: s.length,
    min: r(s[0] ?? NaN),
    median: r(percentile(s, 0.5)),
    p95: r(percentile(s, 0.95)),
    max: r(s[s.length - 1] ?? NaN),
    mean: r(s.reduce((a, b) => a + b, 0) / (s.length || 1)),
  };
}

export const median = (values: number[]) => stats(values).median;

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 100_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 1000).toFixed(0)} s`;
}

export function fmtBytes(b: number | null | undefined): string {
  if (b === null || b === undefined || !Number.isFinite(b)) return 'n/a';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = b;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

/** Times fn; resolves with its result and the elapsed milliseconds (sub-millisecond resolution). */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

export const round1 = (x: number) => Math.round(x * 10) / 10;

/** JSON with the outer levels expanded and anything deeper than `depth` on one line: readable, and diffs stay small. */
export function compactJson(value: unknown, depth = 3, indent = ''): string {
  if (value === null || typeof value !== 'object' || depth === 0) return JSON.stringify(value) ?? 'null';
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => inner + compactJson(v, depth - 1, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${compactJson(v, depth - 1, inner)}`).join(',\n')}\n${indent}}`;
}

/**
 * Waits (at most maxMs) until the 1-minute load average is at most the number of cores: other work on
 * a shared machine would otherwise be measured along with myaas. Resolves with the time waited.
 */
export const calmLimit = { ms: 300_000, /** false: calmStep() does not wait (a quick run) */ eachStep: true };

export async function calm(maxMs = calmLimit.ms): Promise<number> {
  const t0 = Date.now();
  const limit = os.cpus().length;
  let told = false;
  while (os.loadavg()[0] > limit && Date.now() - t0 < maxMs) {
    if (!told) say(`load average ${os.loadavg()[0].toFixed(1)} > ${limit} cores: waiting for the machine to calm down (at most ${maxMs / 1000} s)`);
    told = true;
    await sleep(5000);
  }
  return Date.now() - t0;
}

/** calm() before one step of a longer series (a density step, a concurrency level); skipped in a quick run, which would wait its limit at every step. */
export async function calmStep(): Promise<number> {
  return calmLimit.eachStep ? calm() : 0;
}
