// Plain hand-made SVG charts in the style of chart.svg (white ground, grey grid, Helvetica, the same
// colours): line panels on linear axes and horizontal stacked bars. No dependencies.

export const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const f1 = (v: number) => v.toFixed(1);

/** Tick values from 0 (or below, for negative data) to at least `max`, 1/2/5 × 10^k apart, about `count` of them. */
export function niceTicks(max: number, count = 5): number[] {
  if (!Number.isFinite(max) || max <= 0) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = 0; v < max + step - 1e-9; v += step) out.push(Math.round(v * 1e9) / 1e9);
  return out;
}

export interface LineSeries {
  label: string;
  points: Array<{ x: number; y: number }>;
  dashed?: boolean;
  /** fixed colour; by default the series' place in the legend picks one */
  color?: string;
}

export interface LinePanel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** tick label of a y value */
  yFormat?: (v: number) => string;
  /** a horizontal reference line (a target), drawn dotted */
  target?: { y: number; label: string };
}

function linePanel(p: LinePanel, ox: number, w: number, h: number, colorOf: (l: string) => string): string {
  const m = { l: 64, r: 20, t: 30, b: 44 };
  const pts = p.series.flatMap((s) => s.points).filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y));
  const s: string[] = [`<text x="${ox + w / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`];
  s.push(`<rect x="${ox + m.l}" y="${m.t}" width="${w - m.l - m.r}" height="${h - m.t - m.b}" fill="none" stroke="#999"/>`);
  if (!pts.length) return [...s, `<text x="${ox + w / 2}" y="${h / 2}" text-anchor="middle" fill="#666">not measured</text>`].join('\n');
  const xt = niceTicks(Math.max(...pts.map((q) => q.x)), 5);
  const yt = niceTicks(Math.max(...pts.map((q) => q.y), p.target?.y ?? 0) * 1.05, 5);
  const [x1, y1] = [xt[xt.length - 1], yt[yt.length - 1]];
  const X = (v: number) => ox + m.l + (v / x1) * (w - m.l - m.r);
  const Y = (v: number) => m.t + (1 - v / y1) * (h - m.t - m.b);
  const yf = p.yFormat ?? ((v: number) => String(v));
  for (const v of yt) {
    s.push(`<line x1="${ox + m.l}" x2="${ox + w - m.r}" y1="${f1(Y(v))}" y2="${f1(Y(v))}" stroke="#ddd"/>`);
    s.push(`<text x="${ox + m.l - 6}" y="${f1(Y(v) + 4)}" text-anchor="end" font-size="11">${esc(yf(v))}</text>`);
  }
  for (const v of xt) {
    s.push(`<line x1="${f1(X(v))}" x2="${f1(X(v))}" y1="${m.t}" y2="${h - m.b}" stroke="#eee"/>`);
    s.push(`<text x="${f1(X(v))}" y="${h - m.b + 16}" text-anchor="middle" font-size="11">${v}</text>`);
  }
  s.push(`<text x="${ox + m.l + (w - m.l - m.r) / 2}" y="${h - 8}" text-anchor="middle" font-size="12">${esc(p.xLabel)}</text>`);
  s.push(`<text transform="translate(${ox + 14},${m.t + (h - m.t - m.b) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(p.yLabel)}</text>`);
  if (p.target) {
    s.push(`<line x1="${ox + m.l}" x2="${ox + w - m.r}" y1="${f1(Y(p.target.y))}" y2="${f1(Y(p.target.y))}" stroke="#555" stroke-dasharray="2,3"/>`);
    s.push(`<text x="${ox + w - m.r - 4}" y="${f1(Y(p.target.y) - 4)}" text-anchor="end" font-size="10" fill="#555">${esc(p.target.label)}</text>`);
  }
  for (const l of p.series) {
    const q = l.points.filter((v) => Number.isFinite(v.x) && Number.isFinite(v.y)).sort((a, b) => a.x - b.x);
    if (!q.length) continue;
    const c = l.color ?? colorOf(l.label);
    const d = q.map((v, i) => `${i ? 'L' : 'M'}${f1(X(v.x))},${f1(Y(v.y))}`).join(' ');
    s.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="${l.dashed ? 1.6 : 2.5}"${l.dashed ? ' stroke-dasharray="5,3"' : ''}/>`);
    for (const v of q) s.push(`<circle cx="${f1(X(v.x))}" cy="${f1(Y(v.y))}" r="3.5" fill="${c}"><title>${esc(l.label)}: ${v.x} → ${esc(yf(v.y))}</title></circle>`);
  }
  return s.join('\n');
}

function legend(labels: Array<{ label: string; color: string; dashed?: boolean; box?: boolean }>, y0: number, width: number, cols: number): string[] {
  return labels.map((l, i) => {
    const x = 20 + (i % cols) * (width / cols);
    const y = y0 + Math.floor(i / cols) * 18;
    const mark = l.box
      ? `<rect x="${x}" y="${y - 10}" width="14" height="10" fill="${l.color}"/>`
      : `<line x1="${x}" x2="${x + 26}" y1="${y - 4}" y2="${y - 4}" stroke="${l.color}" stroke-width="${l.dashed ? 1.6 : 2.5}"${l.dashed ? ' stroke-dasharray="5,3"' : ''}/>`;
    return `${mark}<text x="${x + (l.box ? 20 : 32)}" y="${y}" font-size="12">${esc(l.label)}</text>`;
  });
}

const frame = (width: number, height: number, body: string[], note: string) =>
  [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="#fff"/>',
    ...body,
    `<text x="${width - 10}" y="${height - 6}" text-anchor="end" font-size="10" fill="#666">${esc(note)}</text>`,
    '</svg>',
    '',
  ].join('\n');

/** Panels side by side, one legend under them for every series label. */
export function renderLineChart(panels: LinePanel[], note: string, pw = 380, ph = 340): string {
  const labels = [...new Map(panels.flatMap((p) => p.series).map((s) => [s.label, s])).values()];
  const colorOf = (l: string) => labels.find((s) => s.label === l)?.color ?? COLORS[labels.findIndex((s) => s.label === l) % COLORS.length];
  const width = Math.max(1, panels.length) * pw;
  const cols = Math.max(1, Math.min(3, panels.length + 1));
  const height = ph + 28 + Math.ceil(labels.length / cols) * 18;
  const body = panels.map((p, i) => linePanel(p, i * pw, pw, ph, colorOf));
  const leg = legend(labels.map((s) => ({ label: s.label, color: colorOf(s.label), dashed: s.dashed })), ph + 16, width, cols);
  return frame(width, height, [...body, ...leg], note);
}

export interface Bar {
  label: string;
  segments: Array<{ label: string; value: number }>;
}

/** Horizontal bars, each a stack of labelled segments (the same segment label, the same colour), with the total at its end. */
export function renderBarChart(title: string, bars: Bar[], unit: string, note: string, width = 760): string {
  const seg = [...new Set(bars.flatMap((b) => b.segments.map((x) => x.label)))];
  const colorOf = (l: string) => COLORS[seg.indexOf(l) % COLORS.length];
  const m = { l: 210, r: 70, t: 34, row: 26 };
  const val = (v: number) => (Number.isFinite(v) ? Math.max(0, v) : 0);
  const measured = bars.map((b) => b.segments.some((x) => Number.isFinite(x.value)));
  const totals = bars.map((b) => b.segments.reduce((a, x) => a + val(x.value), 0));
  const ticks = niceTicks(Math.max(...totals, 0), 6);
  const x1 = ticks[ticks.length - 1];
  const X = (v: number) => m.l + (v / x1) * (width - m.l - m.r);
  const plotH = bars.length * m.row + 8;
  const s: string[] = [`<text x="${width / 2}" y="20" text-anchor="middle" font-weight="bold">${esc(title)}</text>`];
  for (const v of ticks) {
    s.push(`<line x1="${f1(X(v))}" x2="${f1(X(v))}" y1="${m.t}" y2="${m.t + plotH}" stroke="#ddd"/>`);
    s.push(`<text x="${f1(X(v))}" y="${m.t + plotH + 14}" text-anchor="middle" font-size="11">${v}${esc(unit)}</text>`);
  }
  bars.forEach((b, i) => {
    const y = m.t + 6 + i * m.row;
    s.push(`<text x="${m.l - 8}" y="${y + 13}" text-anchor="end" font-size="12">${esc(b.label)}</text>`);
    let at = 0;
    for (const x of b.segments) {
      const v = val(x.value);
      if (v === 0) continue;
      s.push(`<rect x="${f1(X(at))}" y="${y}" width="${f1(X(at + v) - X(at))}" height="18" fill="${colorOf(x.label)}"><title>${esc(b.label)}: ${esc(x.label)} ${Math.round(v)}${esc(unit)}</title></rect>`);
      at += v;
    }
    s.push(`<text x="${f1(X(at) + 5)}" y="${y + 13}" font-size="11">${measured[i] ? `${Math.round(totals[i])}${esc(unit)}` : 'not measured'}</text>`);
  });
  const y0 = m.t + plotH + 36;
  const cols = 4;
  const leg = legend(seg.map((l) => ({ label: l, color: colorOf(l), box: true })), y0, width, cols);
  const height = y0 + Math.ceil(seg.length / cols) * 18 + 16;
  return frame(width, height, [...s, ...leg], note);
}
