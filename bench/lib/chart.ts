// bench/results/chart.svg: median time to a loaded database against data size, log-log, one line
// per method, one panel per engine. Plain SVG, no dependencies.
import { SIZES } from './options.js';
import { PRIMARY, type Results } from './results.js';

const COLORS = ['#d62728', '#ff7f0e', '#e377c2', '#1f77b4', '#2ca02c', '#9467bd', '#8c564b', '#17becf', '#7f7f7f', '#bcbd22'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface Line {
  label: string;
  points: Array<{ x: number; y: number }>;
  bold: boolean;
}

function linesFor(r: Results, engine: string): Line[] {
  const xOf = (size: string) =>
    r.imports.find((i) => i.size === size && i.series === PRIMARY)?.sizeBytes ?? r.imports.find((i) => i.size === size)?.sizeBytes ?? r.datasets.find((d) => d.id === size)?.dbBytes ?? 0;
  const isEngine = (size: string) => SIZES.find((s) => s.id === size)?.engine === engine;
  const out: Line[] = [];
  for (const d of [...new Set(r.clone.map((c) => c.driver))]) {
    const pts = r.clone.filter((c) => c.driver === d && isEngine(c.size)).map((c) => ({ x: xOf(c.size), y: c.stats.total.median / 1000 }));
    if (pts.length) out.push({ label: `myaas (${d})`, points: pts, bold: true });
  }
  for (const m of [...new Set(r.alternatives.map((a) => a.method))]) {
    const pts = r.alternatives.filter((a) => a.method === m && isEngine(a.size)).map((a) => ({ x: xOf(a.size), y: a.stats.median / 1000 }));
    if (pts.length) out.push({ label: m, points: pts, bold: false });
  }
  for (const l of out) l.points = l.points.filter((p) => p.x > 0 && p.y > 0).sort((a, b) => a.x - b.x);
  return out.filter((l) => l.points.length);
}

function panel(title: string, lines: Line[], ox: number, w: number, h: number, colorOf: (label: string) => string): string {
  const m = { l: 64, r: 24, t: 30, b: 44 };
  const all = lines.flatMap((l) => l.points);
  if (!all.length) return '';
  const lx = (v: number) => Math.log10(v);
  let [x0, x1] = [Math.floor(lx(Math.min(...all.map((p) => p.x))) * 2) / 2, Math.ceil(lx(Math.max(...all.map((p) => p.x))) * 2) / 2];
  if (x1 - x0 < 1) [x0, x1] = [x0 - 0.5, x1 + 0.5];
  const y0 = Math.floor(lx(Math.min(...all.map((p) => p.y))));
  const y1 = Math.max(y0 + 1, Math.ceil(lx(Math.max(...all.map((p) => p.y)))));
  const X = (v: number) => ox + m.l + ((lx(v) - x0) / (x1 - x0)) * (w - m.l - m.r);
  const Y = (v: number) => m.t + (1 - (lx(v) - y0) / (y1 - y0)) * (h - m.t - m.b);
  const s: string[] = [];
  s.push(`<text x="${ox + w / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  s.push(`<rect x="${ox + m.l}" y="${m.t}" width="${w - m.l - m.r}" height="${h - m.t - m.b}" fill="none" stroke="#999"/>`);
  for (let e = y0; e <= y1; e++) {
    const v = 10 ** e;
    const label = v >= 1 ? `${v} s` : `${Math.round(v * 1000)} ms`;
    s.push(`<line x1="${ox + m.l}" x2="${ox + w - m.r}" y1="${Y(v)}" y2="${Y(v)}" stroke="#ddd"/>`);
    s.push(`<text x="${ox + m.l - 6}" y="${Y(v) + 4}" text-anchor="end" font-size="11">${label}</text>`);
    for (const k of [2, 5]) if (e < y1) s.push(`<line x1="${ox + m.l}" x2="${ox + w - m.r}" y1="${Y(k * v)}" y2="${Y(k * v)}" stroke="#f0f0f0"/>`);
  }
  for (let e = Math.floor(x0); e <= Math.ceil(x1); e++) {
    for (const k of [1, 2, 5]) {
      const v = k * 10 ** e;
      if (lx(v) < x0 - 1e-9 || lx(v) > x1 + 1e-9) continue;
      const label = v >= 1e9 ? `${v / 1e9} GB` : `${v / 1e6} MB`;
      s.push(`<line x1="${X(v)}" x2="${X(v)}" y1="${m.t}" y2="${h - m.b}" stroke="${k === 1 ? '#ddd' : '#f0f0f0'}"/>`);
      s.push(`<text x="${X(v)}" y="${h - m.b + 16}" text-anchor="middle" font-size="11">${label}</text>`);
    }
  }
  s.push(`<text x="${ox + m.l + (w - m.l - m.r) / 2}" y="${h - 8}" text-anchor="middle" font-size="12">datadir size (log)</text>`);
  s.push(`<text transform="translate(${ox + 14},${m.t + (h - m.t - m.b) / 2}) rotate(-90)" text-anchor="middle" font-size="12">time to a queryable database (median, log)</text>`);
  for (const l of lines) {
    const c = colorOf(l.label);
    const d = l.points.map((p, i) => `${i ? 'L' : 'M'}${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' ');
    s.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="${l.bold ? 3 : 1.6}"${l.bold ? '' : ' stroke-dasharray="5,3"'}/>`);
    for (const p of l.points) s.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="${l.bold ? 4 : 3}" fill="${c}"><title>${esc(l.label)}: ${p.y.toFixed(3)} s</title></circle>`);
  }
  return s.join('\n');
}

export function renderChart(r: Results): string {
  const pg = linesFor(r, 'postgres');
  const my = linesFor(r, 'mariadb');
  const labels = [...new Set([...pg, ...my].map((l) => l.label))];
  const colorOf = (label: string) => COLORS[labels.indexOf(label) % COLORS.length];
  const panels = [['PostgreSQL (pgbench)', pg], ['MariaDB (generated)', my]].filter(([, l]) => (l as Line[]).length) as Array<[string, Line[]]>;
  const pw = 460;
  const ph = 380;
  const legendRows = Math.ceil(labels.length / 2);
  const width = Math.max(1, panels.length) * pw;
  const height = ph + 24 + legendRows * 18;
  const body = panels.map(([t, l], i) => panel(t, l, i * pw, pw, ph, colorOf));
  const legend = labels.map((label, i) => {
    const x = 20 + (i % 2) * (width / 2);
    const y = ph + 14 + Math.floor(i / 2) * 18;
    const bold = label.startsWith('myaas');
    return `<line x1="${x}" x2="${x + 26}" y1="${y - 4}" y2="${y - 4}" stroke="${colorOf(label)}" stroke-width="${bold ? 3 : 1.6}"${bold ? '' : ' stroke-dasharray="5,3"'}/><text x="${x + 32}" y="${y}" font-size="12">${esc(label)}</text>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...body,
    ...legend,
    `<text x="${width - 10}" y="${height - 6}" text-anchor="end" font-size="10" fill="#666">solid: myaas; dashed: the alternatives. Medians, warm page cache.</text>`,
    '</svg>',
    '',
  ].join('\n');
}
