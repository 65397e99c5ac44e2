// A schema diff as GitHub-flavoured Markdown: for the pull-request comment, the API reply and the
// Action's job summary. Warnings first, long sections collapsed, and the whole bounded in length
// (GitHub refuses comments over 65536 characters, and the comment carries more than the diff). Pure.
import { OBJECT_KINDS, WARNING_LABELS, changeCount, type ObjectKind, type SchemaChange, type SchemaDiff } from './schema.js';

export interface SchemaMarkdownOptions {
  /** upper bound of the returned text's length; default 60000 */
  maxChars?: number;
  /** sections with more items than this are collapsed in <details>; default 5 */
  collapseOver?: number;
}

const HEADINGS: Record<ObjectKind, [singular: string, plural: string]> = {
  table: ['table', 'Tables'],
  column: ['column', 'Columns'],
  index: ['index', 'Indexes'],
  constraint: ['constraint', 'Constraints'],
  view: ['view', 'Views'],
  routine: ['function/procedure', 'Functions and procedures'],
  trigger: ['trigger', 'Triggers'],
};
const MARK = { added: '➕', removed: '➖', changed: '✏️' } as const;
const MAX_DETAIL = 160;

/**
 * A code span that stays one span: line breaks flattened, long text shortened, and a fence longer than
 * any run of backticks inside (MariaDB quotes names with them).
 */
function code(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  const short = flat.length > MAX_DETAIL ? `${flat.slice(0, MAX_DETAIL - 1)}…` : flat;
  const fence = '`'.repeat(Math.max(0, ...(short.match(/`+/g) ?? []).map((r) => r.length)) + 1);
  const pad = short.startsWith('`') || short.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${short}${pad}${fence}`;
}

/** Outside code spans only our own words and names appear; keep HTML from being interpreted. */
function text(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function countWords(n: number, singular: string): string {
  if (n === 1) return `1 ${singular}`;
  const plural = singular === 'index' ? 'indexes' : singular === 'function/procedure' ? 'functions/procedures' : `${singular}s`;
  return `${n} ${plural}`;
}

/** The one-line summary, e.g. `2 columns added, 1 column removed, 1 index added · ⚠️ 1 warning`. */
export function schemaDiffSummary(diff: SchemaDiff): string {
  if (changeCount(diff) === 0) return 'No schema changes.';
  const parts: string[] = [];
  for (const action of ['added', 'removed', 'changed'] as const) {
    for (const k of OBJECT_KINDS) {
      const n = diff.kinds[k][action].length;
      if (n) parts.push(`${countWords(n, HEADINGS[k][0])} ${action}`);
    }
  }
  const w = diff.warnings.length;
  return `${parts.join(', ')}${w ? ` · ⚠️ ${w} destructive change${w === 1 ? '' : 's'}` : ''}`;
}

function item(c: SchemaChange): string {
  const sep = c.action === 'changed' ? ': ' : ' ';
  return `- ${MARK[c.action]} ${code(c.name)}${c.details.length ? sep + c.details.map(code).join(', ') : ''}`;
}

function capped(lines: string[], cap: number): string[] {
  return lines.length <= cap ? lines : [...lines.slice(0, cap), `- … and ${lines.length - cap} more`];
}

function render(diff: SchemaDiff, cap: number, collapseOver: number): string {
  if (changeCount(diff) === 0) return '**Schema changes:** none\n';
  const out = [`**Schema changes:** ${text(schemaDiffSummary(diff))}`];
  if (diff.warnings.length) {
    const lines = diff.warnings.map((w) => `- ⚠️ **${WARNING_LABELS[w.kind]}** ${code(w.name)}: ${text(w.detail)}`);
    out.push('', '⚠️ **Destructive changes**', '', ...capped(lines, cap));
  }
  for (const k of OBJECT_KINDS) {
    const changes = [...diff.kinds[k].added, ...diff.kinds[k].removed, ...diff.kinds[k].changed];
    if (!changes.length) continue;
    const { added, removed, changed } = diff.kinds[k];
    const counts = [added.length && `+${added.length}`, removed.length && `−${removed.length}`, changed.length && `~${changed.length}`].filter(Boolean).join(' ');
    const lines = capped(changes.map(item), cap);
    if (changes.length > collapseOver) {
      out.push('', `<details><summary><b>${HEADINGS[k][1]}</b> (${counts})</summary>`, '', ...lines, '', '</details>');
    } else {
      out.push('', `**${HEADINGS[k][1]}** (${counts})`, '', ...lines);
    }
  }
  return out.join('\n') + '\n';
}

/** The diff as Markdown of at most `maxChars` characters: lists are shortened ("… and N more") to fit. */
export function renderSchemaDiffMarkdown(diff: SchemaDiff, opts: SchemaMarkdownOptions = {}): string {
  const maxChars = opts.maxChars ?? 60_000;
  const collapseOver = opts.collapseOver ?? 5;
  for (const cap of [Infinity, 500, 200, 100, 50, 20, 10, 5, 1]) {
    const md = render(diff, cap, collapseOver);
    if (md.length <= maxChars) return md;
  }
  const note = '\n… (shortened)\n';
  return render(diff, 0, collapseOver).slice(0, Math.max(0, maxChars - note.length)) + note;
}
