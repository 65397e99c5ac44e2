// ChatOps: what a pull-request comment asks of myaas, and who may ask. Pure functions; the handler
// that acts on them is chatops-handler.ts.
//
// Parsing rule: the FIRST line of the comment that starts with `/myaas` (after leading whitespace) is
// the command, wherever it is in the comment, so "Thanks!\n/myaas reset" works. Lines inside fenced
// code blocks and quoted lines (`> /myaas reset`, e.g. a reply quoting an earlier command) are
// skipped: they talk about a command rather than give one. The word `/myaas` and the subcommand are
// case-insensitive and may be separated by any whitespace. One command per comment.

export type ChatOpsCommand =
  | { kind: 'reset' }
  | { kind: 'extend'; seconds: number }
  | { kind: 'protect'; on: boolean }
  | { kind: 'recreate' }
  /** `problem` when the comment was a command we could not understand: the reply explains it */
  | { kind: 'help'; problem?: string };

const UNIT_SECONDS: [RegExp, number][] = [
  [/^(m|mins?|minutes?)$/, 60],
  [/^(h|hrs?|hours?)$/, 3600],
  [/^(d|days?)$/, 86400],
  [/^(w|weeks?)$/, 7 * 86400],
];

/** "3d", "12h", "90m", "2w", "3 days" → seconds; null when it is not such a duration. */
export function parseChatDuration(s: string): number | null {
  const m = /^([0-9]{1,6})\s*([a-z]+)$/i.exec(s.trim());
  if (!m) return null;
  const unit = UNIT_SECONDS.find(([re]) => re.test(m[2].toLowerCase()));
  const n = Number(m[1]);
  return unit && n > 0 ? n * unit[1] : null;
}

/** The command line of a comment body, per the rule above; null when there is none. */
export function commandLine(body: string): string | null {
  let fence: string | null = null;
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim();
    const f = /^(`{3,}|~{3,})/.exec(line);
    if (f) {
      if (fence === null) fence = f[1][0];
      else if (f[1][0] === fence) fence = null;
      continue;
    }
    if (fence !== null || line.startsWith('>')) continue;
    if (/^\/myaas(\s|$)/i.test(line)) return line;
  }
  return null;
}

/** The command a comment gives, or null when it gives none (an ordinary comment). */
export function parseCommand(body: string): ChatOpsCommand | null {
  const line = commandLine(body);
  if (line === null) return null;
  const [, sub = '', ...args] = line.split(/\s+/);
  const name = sub.toLowerCase();
  const noArgs = (c: ChatOpsCommand): ChatOpsCommand =>
    args.length ? { kind: 'help', problem: `\`/myaas ${name}\` takes no arguments (it acts on every database of this pull request)` } : c;
  switch (name) {
    case '':
    case 'help':
      return { kind: 'help' };
    case 'reset':
      return noArgs({ kind: 'reset' });
    case 'recreate':
      return noArgs({ kind: 'recreate' });
    case 'protect':
      return noArgs({ kind: 'protect', on: true });
    case 'unprotect':
      return noArgs({ kind: 'protect', on: false });
    case 'extend': {
      const seconds = args.length ? parseChatDuration(args.join(' ')) : null;
      if (seconds === null) return { kind: 'help', problem: '`/myaas extend` needs a duration such as `3d`, `12h`, `90m` or `2w`' };
      return { kind: 'extend', seconds };
    }
    default:
      return { kind: 'help', problem: `unknown command \`${name.slice(0, 40).replace(/`/g, '')}\`` };
  }
}

/**
 * Who may command myaas: the author associations GitHub gives people with a stake in the repository
 * (its owner, members of the owning organisation, invited collaborators). Everyone else is ignored
 * politely: no reaction, no reply, only a log line, so a stranger cannot make the bot talk.
 * The handler also accepts people whose repository permission is write or admin, since GitHub may
 * report a private organisation member as CONTRIBUTOR or NONE.
 */
export const ALLOWED_ASSOCIATIONS: readonly string[] = ['OWNER', 'MEMBER', 'COLLABORATOR'];

export function allowedByAssociation(association: string | null | undefined): boolean {
  return ALLOWED_ASSOCIATIONS.includes(String(association ?? '').toUpperCase());
}

/** The label that resets a pull request's databases when added; the handler removes it afterwards. */
export const RESET_LABEL = 'myaas:reset';

export function isResetLabel(name: string | null | undefined): boolean {
  return String(name ?? '').trim().toLowerCase() === RESET_LABEL;
}

/** A duration in words for replies: 259200 → "3 days". */
export function describeSeconds(s: number): string {
  for (const [unit, n] of [['week', 7 * 86400], ['day', 86400], ['hour', 3600], ['minute', 60]] as const) {
    if (s % n === 0) return `${s / n} ${unit}${s / n === 1 ? '' : 's'}`;
  }
  return `${s} seconds`;
}

export const HELP_TEXT = [
  '**myaas commands** (comment on the pull request; people with write access to the repository):',
  '',
  '| command | does |',
  '| --- | --- |',
  '| `/myaas reset` | fresh data from the latest template version; same host, port and password |',
  '| `/myaas extend 3d` | keep this pull request\'s databases longer (`90m`, `12h`, `3d`, `2w`) |',
  '| `/myaas protect` | never let them expire while the pull request is open |',
  '| `/myaas unprotect` | let them expire again |',
  '| `/myaas recreate` | create them again, e.g. after they expired |',
  '| `/myaas help` | this list |',
  '',
  `Adding the label \`${RESET_LABEL}\` resets them too; myaas removes the label when done.`,
].join('\n');
