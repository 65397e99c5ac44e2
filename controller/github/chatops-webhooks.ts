// Routes the webhook events ChatOps listens to onto the handler. The lead registers it on the
// Webhooks instance of http/webhooks.ts: `registerChatOps(webhooks, chatOps)`.
//   issue_comment created, only on pull requests (`issue.pull_request` present): a command, maybe.
//   pull_request labeled with `myaas:reset`: reset.
// Edited comments are not commands: editing an old comment must not run it again.
import type { Webhooks } from '@octokit/webhooks';
import type { ChatOps, CommentEvent, LabelEvent } from './chatops-handler.js';

/** The parts of an `issue_comment` payload ChatOps reads. */
interface CommentPayload {
  repository: { full_name: string };
  issue: { number: number; pull_request?: unknown };
  comment: { id: number; body: string | null; author_association: string; user: { login: string; type?: string } | null };
}

/** null when the comment is on an issue, not a pull request. */
export function fromCommentPayload(p: CommentPayload): CommentEvent | null {
  if (!p.issue.pull_request) return null;
  return {
    repo: p.repository.full_name,
    number: p.issue.number,
    commentId: p.comment.id,
    body: p.comment.body ?? '',
    author: p.comment.user?.login ?? 'ghost',
    authorType: p.comment.user?.type ?? 'User',
    association: p.comment.author_association,
  };
}

interface LabeledPayload {
  repository: { full_name: string };
  number: number;
  label?: { name: string };
  sender: { login: string };
}

export function fromLabeledPayload(p: LabeledPayload): LabelEvent | null {
  if (!p.label) return null;
  return { repo: p.repository.full_name, number: p.number, label: p.label.name, sender: p.sender.login };
}

export function registerChatOps(webhooks: Webhooks, chatOps: ChatOps): void {
  webhooks.on('issue_comment.created', ({ payload }) => {
    const e = fromCommentPayload(payload);
    if (e) chatOps.onComment(e);
  });
  webhooks.on('pull_request.labeled', ({ payload }) => {
    const e = fromLabeledPayload(payload);
    if (e) chatOps.onLabeled(e);
  });
}
