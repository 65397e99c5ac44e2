// How the status page writes numbers, times and owners. Pure functions of their arguments (the page's
// "now" is the snapshot's time), so a render can be tested to the character.
import type { OwnerKey } from '../domain/owner.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB"; null → "—". */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  let v = Math.max(0, n);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${UNITS[u]}`;
}

/** 95_000 → "1 min 35 s"; coarse above an hour. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  return `${Math.floor(h / 24)} d`;
}

/** "3 min ago" or "in 2 h" relative to `now`. */
export function relative(d: Date, now: Date): string {
  const ms = d.getTime() - now.getTime();
  if (Math.abs(ms) < 1000) return 'now';
  return ms < 0 ? `${duration(-ms)} ago` : `in ${duration(ms)}`;
}

/** "2026-05-03 12:04 UTC": the same for every admin, whatever their time zone. */
export function utc(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** What an owner is called on the page, and where it lives on GitHub (if it does). */
export function ownerLink(owner: string, key: OwnerKey | null, githubWebUrl: string): { text: string; href: string | null } {
  const web = githubWebUrl.replace(/\/+$/, '');
  switch (key?.kind) {
    case 'pull':
      return { text: `${key.repo}#${key.number}`, href: `${web}/${key.repo}/pull/${key.number}` };
    case 'run':
      return {
        text: `${key.repo} run ${key.runId}${key.attempt ? ` (attempt ${key.attempt})` : ''}`,
        href: `${web}/${key.repo}/actions/runs/${key.runId}${key.attempt ? `/attempts/${key.attempt}` : ''}`,
      };
    case 'api':
      return { text: `api: ${key.name}`, href: null };
    default:
      return { text: owner, href: null };
  }
}

/** Percentage of `part` in `whole`, for a bar's width; 0 when unknown. */
export function percent(part: number, whole: number): number {
  return whole > 0 ? Math.min(100, Math.max(0, Math.round((part / whole) * 1000) / 10)) : 0;
}
