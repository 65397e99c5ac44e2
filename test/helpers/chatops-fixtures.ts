// ChatOps test material: GitHub's own example `issue_comment` and `pull_request` `labeled` payloads
// (@octokit/webhooks-examples) edited per test, and a ChatOpsTarget that records what it was asked.
import { formatOwner } from '../../controller/domain/owner.js';
import { createRequire } from 'node:module';
import type { WebhookDefinition } from '@octokit/webhooks-examples';
import type { ChatOpsTarget } from '../../controller/github/chatops-handler.js';
import { pullRequestPayload } from './webhook-fixtures.js';

const require = createRequire(import.meta.url);
type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface CommentOptions {
  /** base repository (default Codertocat/Hello-World, as in GitHub's examples) */
  repo?: string;
  number?: number;
  commentId: number;
  body: string;
  user?: string;
  userType?: 'User' | 'Bot';
  association?: string;
  /** false: a comment on an issue, not a pull request */
  onPullRequest?: boolean;
  action?: 'created' | 'edited' | 'deleted';
}

/** A real `issue_comment` example payload, edited to the given comment. */
export function issueCommentPayload(o: CommentOptions): Json {
  const defs = require('@octokit/webhooks-examples') as WebhookDefinition[];
  const action = o.action ?? 'created';
  const found = defs.find((d) => d.name === 'issue_comment')?.examples.find((e) => (e as { action?: string }).action === action);
  if (!found) throw new Error(`no issue_comment.${action} example`);
  const p: Json = structuredClone(found);
  const repo = o.repo ?? 'Codertocat/Hello-World';
  const [owner, name] = repo.split('/');
  Object.assign(p.repository, { full_name: repo, name });
  p.repository.owner.login = owner;
  const number = o.number ?? 2;
  const api = `https://api.github.com/repos/${repo}`;
  Object.assign(p.issue, { number, url: `${api}/issues/${number}` });
  // GitHub's examples are all on issues; a pull request's issue carries these links.
  if (o.onPullRequest ?? true) {
    p.issue.pull_request = {
      url: `${api}/pulls/${number}`,
      html_url: `https://github.com/${repo}/pull/${number}`,
      diff_url: `https://github.com/${repo}/pull/${number}.diff`,
      patch_url: `https://github.com/${repo}/pull/${number}.patch`,
      merged_at: null,
    };
  } else delete p.issue.pull_request;
  Object.assign(p.comment, {
    id: o.commentId,
    body: o.body,
    author_association: o.association ?? 'OWNER',
    issue_url: `${api}/issues/${number}`,
    html_url: `https://github.com/${repo}/pull/${number}#issuecomment-${o.commentId}`,
  });
  Object.assign(p.comment.user, { login: o.user ?? 'alice', type: o.userType ?? 'User' });
  Object.assign(p.sender, { login: o.user ?? 'alice', type: o.userType ?? 'User' });
  return p;
}

/** A real `pull_request` `labeled` example payload with the given label. */
export function labeledPayload(o: { repo?: string; number?: number; label: string; sender?: string }): Json {
  const p = pullRequestPayload('labeled', { repo: o.repo, number: o.number ?? 2 });
  p.label.name = o.label;
  p.sender.login = o.sender ?? 'alice';
  return p;
}

type Op = 'reset' | 'extend' | 'protect' | 'recreate';

export interface FakeChatOpsTarget extends ChatOpsTarget {
  calls: { op: Op; owner: string; seconds?: number; on?: boolean }[];
  /** what the next calls of `op` do: answer a count, or throw */
  answer(op: Op, a: number | Error): void;
  /** hold every call until release() (a slow target) */
  hold(): () => void;
}

export function createFakeChatOpsTarget(): FakeChatOpsTarget {
  const calls: FakeChatOpsTarget['calls'] = [];
  const answers = new Map<Op, number | Error>();
  let gate: Promise<void> | null = null;
  const act = async (op: Op, owner: string, extra: { seconds?: number; on?: boolean } = {}) => {
    calls.push({ op, owner, ...extra });
    if (gate) await gate;
    const a = answers.get(op) ?? 1;
    if (a instanceof Error) throw a;
    return a;
  };
  return {
    calls,
    answer: (op, a) => void answers.set(op, a),
    hold() {
      let release = () => {};
      gate = new Promise<void>((r) => (release = r));
      return () => {
        gate = null;
        release();
      };
    },
    reset: (owner) => act('reset', formatOwner(owner)),
    extend: (owner, seconds) => act('extend', formatOwner(owner), { seconds }),
    protect: (owner, on) => act('protect', formatOwner(owner), { on }),
    recreate: (owner) => act('recreate', formatOwner(owner)),
  };
}
