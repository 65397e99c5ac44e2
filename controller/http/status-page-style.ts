// The status page's one stylesheet, inline so the page needs no other request and no build step.
// Its hash goes into the Content-Security-Policy, which then allows this style and nothing else.
import { createHash } from 'node:crypto';

export const CSS = `
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #f6f8fa; --card: #fff;
  --ok: #1a7f37; --run: #0969da; --warn: #9a6700; --bad: #cf222e; --off: #818b98; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 16px; padding: 12px 24px; background: #24292f; color: #fff; }
header h1 { margin: 0; font-size: 18px; letter-spacing: .5px; }
header .meta { color: #c9d1d9; font-size: 13px; flex: 1; }
header form { margin: 0; }
main { padding: 16px 24px 32px; max-width: 1400px; margin: 0 auto; }
h2 { font-size: 15px; margin: 24px 0 8px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .4px; }
.card .big { font-size: 22px; font-weight: 600; margin: 2px 0; }
.bar { display: block; width: 100%; height: 8px; background: #eaeef2; border-radius: 4px; margin: 6px 0 4px; }
.bar rect { fill: var(--run); }
.bar.high rect { fill: var(--bad); }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 6px; }
th, td { text-align: left; padding: 7px 10px; border-top: 1px solid var(--line); vertical-align: top; }
th { border-top: 0; font-size: 12px; color: var(--muted); font-weight: 600; background: #f6f8fa; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12px; }
.pill { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
  border: 1px solid currentColor; white-space: nowrap; }
.s-ready { color: var(--ok); } .s-provisioning, .s-importing { color: var(--run); }
.s-failed { color: var(--bad); } .s-destroying, .s-retired, .s-destroyed { color: var(--off); }
.versions { list-style: none; margin: 0; padding: 0; }
.versions li { margin: 1px 0; }
.error { color: var(--bad); white-space: pre-wrap; word-break: break-word; margin: 0; font-size: 12px; }
.empty { color: var(--muted); padding: 12px; background: var(--card); border: 1px dashed var(--line); border-radius: 6px; }
button { font: inherit; padding: 4px 12px; border-radius: 6px; border: 1px solid var(--line); background: #f6f8fa; cursor: pointer; }
header button { background: transparent; color: #fff; border-color: #57606a; }
.login { max-width: 380px; margin: 12vh auto; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 24px; }
.login h1 { margin: 0 0 4px; font-size: 20px; }
.login label { display: block; margin: 16px 0 6px; font-weight: 600; }
.login input { width: 100%; font: inherit; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; }
.login button { margin-top: 14px; width: 100%; background: var(--ok); color: #fff; border-color: var(--ok); }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
`;

export const CSS_HASH = `sha256-${createHash('sha256').update(CSS).digest('base64')}`;
