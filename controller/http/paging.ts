// GET /api/v1/instances a page at a time. Keyset pagination on (createdAt, id), the order the list
// has always had: a page costs the same however deep it is (an index range scan, no OFFSET that
// reads and drops every row before it), and instances created or destroyed between two pages neither
// repeat nor push others out of the next one, as they would with ?offset=.
import type { z } from '@hono/zod-openapi';
import type { InstancePageQuery } from '../app/ports.js';
import { AppError } from '../domain/errors.js';
import type { InstanceStatus } from '../domain/types.js';
import { LIVE_STATUS_VALUES, type ListInstancesQuerySchema } from './schemas.js';

export const DEFAULT_LIMIT = 100;

type Key = NonNullable<InstancePageQuery['after']>;

/** The cursor is opaque to clients: the last row's key, base64url-encoded. */
export function encodeCursor(k: Key): string {
  return Buffer.from(JSON.stringify([k.createdAt.getTime(), k.id])).toString('base64url');
}

export function decodeCursor(s: string): Key {
  try {
    const [ms, id] = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown[];
    if (typeof ms === 'number' && Number.isSafeInteger(ms) && typeof id === 'string' && id.length <= 64) return { createdAt: new Date(ms), id };
  } catch {
    // falls through to the error below
  }
  throw new AppError('bad_request', 'cursor is not one this controller gave out: take it from the Link header of the previous page');
}

const list = (s: string | undefined) => (s === undefined ? undefined : [...new Set(s.split(',').map((x) => x.trim()).filter(Boolean))]);
const LIVE: readonly string[] = LIVE_STATUS_VALUES;

/** The store's query for a request's (already validated) query parameters. */
export function pageQuery(q: z.output<typeof ListInstancesQuerySchema>): Omit<InstancePageQuery, 'excludeOwnerPrefix'> {
  const status = list(q.status);
  const unknown = status?.filter((s) => !LIVE.includes(s)) ?? [];
  if (unknown.length) {
    throw new AppError('bad_request', `status ${unknown.map((s) => JSON.stringify(s)).join(', ')} is not one of ${LIVE.join(', ')} (lists hold live instances only)`);
  }
  return {
    templates: list(q.template),
    owners: list(q.owner),
    status: status as InstanceStatus[] | undefined,
    after: q.cursor === undefined ? null : decodeCursor(q.cursor),
    limit: q.limit ?? DEFAULT_LIMIT,
  };
}

/** `Link: <…>; rel="next"` (RFC 8288) for the page after `last`: the same request with its cursor. */
export function nextLink(requestUrl: string, last: Key): string {
  const u = new URL(requestUrl);
  u.searchParams.set('cursor', encodeCursor(last));
  // A reference relative to the request: right behind a proxy that rewrites the host.
  return `<${u.pathname}${u.search}>; rel="next"`;
}
