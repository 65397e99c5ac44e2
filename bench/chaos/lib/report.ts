// The campaigns' summaries, as printed at the end of a run (and quoted in the README's reliability section).

export function stats(ms: number[]): string {
  if (!ms.length) return 'none';
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  const sec = (n: number) => `${(n / 1000).toFixed(1)} s`;
  return `${s.length} × median ${sec(at(0.5))}, p95 ${sec(at(0.95))}, max ${sec(s[s.length - 1])}`;
}

export function printSummary(kind: string, summary: object, say: (l: string) => void): void {
  const s = summary as Record<string, unknown>;
  const line = (k: string, v: unknown) => say(`  ${k.padEnd(22)} ${v}`);
  say(`${kind}: summary (seed ${s.seed}, ${((s.durationMs as number) / 60_000).toFixed(1)} min)`);
  for (const [k, v] of Object.entries(s)) {
    if (k === 'seed' || k === 'durationMs' || k === 'findings' || k === 'leaks') continue;
    if (Array.isArray(v) && v.every((x) => typeof x === 'number')) line(k, stats(v as number[]));
    else if (Array.isArray(v)) line(k, v.length ? v.join('; ') : '-');
    else if (v && typeof v === 'object') line(k, Object.entries(v).map(([a, b]) => `${a} ${b}`).join(', '));
    else line(k, v);
  }
  const leaks = s.leaks as string[];
  const findings = s.findings as string[];
  line('leaks', leaks.length);
  for (const l of leaks) say(`    leak: ${l}`);
  line('findings', findings.length);
  for (const f of findings) say(`    finding: ${f}`);
}
