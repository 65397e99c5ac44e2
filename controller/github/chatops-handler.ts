// Acts on ChatOps comments and the reset label. The webhook only queues the work (so GitHub gets
// its answer at once); commands of one pull request run one after another, in the order they came.
// Acknowledgement: 👀 at once, then 🚀 when done, or 😕 and a reply saying what went wrong.
import { isAppError, messageOf } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import type { GitHubClient, PullRef, Reaction } from './client.js';
import { allowedByAssociation, describeSeconds, HELP_TEXT, isResetLabel, parseCommand, RESET_LABEL, type ChatOpsCommand } from './chatops.js';
import { assertOwner, formatOwner, pullOwner, type OwnerKey } from '../domain/owner.js';
import { createKeyedQueue } from '../lib/keyed-queue.js';

/**
 * What ChatOps asks of the rest of the controller, per pull-request owner key `gh:<owner>/<repo>#<n>`.
 * Each returns how many instances it acted on (0: there were none); a thrown AppError's message is
 * shown to the person who asked, anything else only as "internal error".
 */
export interface ChatOpsTarget {
  /** fresh data from the latest template version, same port and credentials */
  reset(owner: OwnerKey): Promise<number>;
  /** lengthen the instances' lifetime by `seconds` */
  extend(owner: OwnerKey, seconds: number): Promise<number>;
  /** on: the instances never expire while the pull request is open; off: they may again */
  protect(owner: OwnerKey, on: boolean): Promise<number>;
  /** destroy whatever is left and create the pull request's instances anew */
  recreate(owner: OwnerKey): Promise<number>;
}

/** An `issue_comment` `created` event on a pull request, reduced. */
export interface CommentEvent {
  /** base repository `owner/repo` */
  repo: string;
  number: number;
  commentId: number;
  body: string;
  author: string;
  /** GitHub's user type: `User`, `Bot`, … */
  authorType: string;
  /** the comment's author_association */
  association: string;
}

/** A `pull_request` `labeled` event, reduced. */
export interface LabelEvent {
  repo: string;
  number: number;
  label: string;
  sender: string;
}

export type ChatOpsDecision =
  | { result: 'queued'; owner: string; command: ChatOpsCommand['kind'] }
  | { result: 'ignored'; reason: 'no_command' | 'bot' | 'other_label' };

export interface ChatOps {
  onComment(e: CommentEvent): ChatOpsDecision;
  onLabeled(e: LabelEvent): ChatOpsDecision;
  /** resolves when every queued command has finished (tests, shutdown) */
  idle(): Promise<void>;
}

export interface ChatOpsDeps {
  target: ChatOpsTarget;
  client: Pick<GitHubClient, 'addCommentReaction' | 'createComment' | 'removeLabel' | 'getPermission'>;
  log: Logger;
}

const NOTHING: Record<Exclude<ChatOpsCommand['kind'], 'help'>, string> = {
  reset: 'this pull request has no databases to reset; `/myaas recreate` creates them',
  extend: 'this pull request has no databases to extend; `/myaas recreate` creates them',
  protect: 'this pull request has no databases to protect; `/myaas recreate` creates them',
  recreate: 'this repository gets no databases: the controller\'s MYAAS_GITHUB_REPOS does not name it',
};

const DONE: Record<Exclude<ChatOpsCommand['kind'], 'help'>, string> = {
  reset: 'reset', extend: 'extended', protect: 'protected', recreate: 'recreated',
};

export function createChatOps(deps: ChatOpsDeps): ChatOps {
  const log = deps.log.child({ component: 'chatops' });
  const queue = createKeyedQueue();

  /** Runs `work` after the pull request's earlier commands; never rejects. */
  function enqueue(owner: string, work: () => Promise<void>): void {
    void queue.run(owner, () => work().catch((e) => log.error({ owner, err: messageOf(e) }, 'ChatOps command crashed')));
  }

  /** GitHub calls for acknowledgement: a failure is logged, never stops the command. */
  const quietly = async (what: string, owner: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      log.warn({ owner, err: messageOf(e) }, `could not ${what}`);
    }
  };
  const userMessage = (e: unknown) => (isAppError(e) && e.status < 500 ? e.message : 'internal error; the controller\'s log says more');

  /** Runs a command against the target; the number of instances it acted on. */
  function run(owner: string, c: Exclude<ChatOpsCommand, { kind: 'help' }>): Promise<number> {
    const key = assertOwner(owner);
    switch (c.kind) {
      case 'reset':
        return deps.target.reset(key);
      case 'extend':
        return deps.target.extend(key, c.seconds);
      case 'protect':
        return deps.target.protect(key, c.on);
      case 'recreate':
        return deps.target.recreate(key);
    }
  }

  async function mayCommand(e: CommentEvent, pr: PullRef): Promise<boolean> {
    if (allowedByAssociation(e.association)) return true;
    try {
      const p = await deps.client.getPermission(pr, e.author);
      return p === 'admin' || p === 'write';
    } catch (err) {
      log.warn({ repo: e.repo, author: e.author, err: messageOf(err) }, 'could not check the commenter\'s permission; ignoring the command');
      return false;
    }
  }

  async function handleComment(e: CommentEvent, c: ChatOpsCommand, owner: string): Promise<void> {
    const [o, r] = e.repo.split('/');
    const pr = { owner: o, repo: r, number: e.number };
    const clog = log.child({ owner, comment: e.commentId, author: e.author, command: c.kind });
    if (!(await mayCommand(e, pr))) {
      clog.info({ association: e.association }, 'ChatOps command from someone without write access ignored');
      return;
    }
    const react = (content: Reaction) => quietly(`react ${content}`, owner, () => deps.client.addCommentReaction(pr, e.commentId, content));
    const reply = (text: string) => quietly('reply', owner, () => deps.client.createComment(pr, `@${e.author} ${text}`));
    await react('eyes');
    if (c.kind === 'help') {
      await reply(c.problem ? `${c.problem}.\n\n${HELP_TEXT}` : HELP_TEXT);
      await react(c.problem ? 'confused' : 'rocket');
      return;
    }
    try {
      const n = await run(owner, c);
      if (n === 0) {
        clog.info('ChatOps command found nothing to act on');
        await react('confused');
        await reply(`\`/myaas ${c.kind}\`: ${NOTHING[c.kind]}.`);
        return;
      }
      clog.info({ instances: n }, `ChatOps: ${DONE[c.kind]}`);
      await react('rocket');
    } catch (err) {
      clog.warn({ err: messageOf(err) }, 'ChatOps command failed');
      await react('confused');
      const by = c.kind === 'extend' ? ` by ${describeSeconds(c.seconds)}` : '';
      await reply(`\`/myaas ${c.kind}\`${by} failed: ${userMessage(err)}`);
    }
  }

  async function handleLabel(e: LabelEvent, owner: string): Promise<void> {
    const [o, r] = e.repo.split('/');
    const pr = { owner: o, repo: r, number: e.number };
    const llog = log.child({ owner, sender: e.sender, label: RESET_LABEL });
    let problem: string | null = null;
    try {
      const n = await deps.target.reset(assertOwner(owner));
      if (n === 0) problem = NOTHING.reset;
      else llog.info({ instances: n }, 'ChatOps: reset by label');
    } catch (err) {
      llog.warn({ err: messageOf(err) }, 'reset by label failed');
      problem = `reset failed: ${userMessage(err)}`;
    }
    // The label is a button: take it off so adding it again resets again (also after a failure).
    await quietly('remove the reset label', owner, () => deps.client.removeLabel(pr, e.label));
    if (problem) await quietly('reply', owner, () => deps.client.createComment(pr, `@${e.sender} \`${RESET_LABEL}\`: ${problem}.`));
  }

  return {
    onComment(e) {
      const c = parseCommand(e.body);
      if (!c) return { result: 'ignored', reason: 'no_command' };
      // Bots (this app among them: its help reply lists the commands) never command myaas.
      if (e.authorType === 'Bot' || e.author.endsWith('[bot]')) return { result: 'ignored', reason: 'bot' };
      const owner = formatOwner(pullOwner(e.repo, e.number));
      enqueue(owner, () => handleComment(e, c, owner));
      return { result: 'queued', owner, command: c.kind };
    },
    onLabeled(e) {
      if (!isResetLabel(e.label)) return { result: 'ignored', reason: 'other_label' };
      const owner = formatOwner(pullOwner(e.repo, e.number));
      enqueue(owner, () => handleLabel(e, owner));
      return { result: 'queued', owner, command: 'reset' };
    },
    idle: () => queue.idle(),
  };
}
