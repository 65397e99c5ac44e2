import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ZodError } from 'zod';
import { isAppError } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';

/** Every failure leaves as `{ error: { code, message } }` with a fitting status. */
export function errorHandler(log: Logger) {
  return (err: Error, c: Context) => {
    if (isAppError(err)) {
      if (err.status >= 500) log.warn({ code: err.code, err: err.message, path: c.req.path }, 'request failed');
      return c.json({ error: { code: err.code, message: err.message } }, err.status as 400);
    }
    if (err instanceof ZodError) {
      const message = err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
      return c.json({ error: { code: 'bad_request', message } }, 400);
    }
    // Hono's own refusals (a validator's malformed JSON, a body limit): same shape as ours.
    if (err instanceof HTTPException && err.status < 500) {
      return c.json({ error: { code: 'bad_request', message: err.message || 'bad request' } }, err.status);
    }
    if (err instanceof SyntaxError) {
      return c.json({ error: { code: 'bad_request', message: `request body is not valid JSON: ${err.message}` } }, 400);
    }
    log.error({ err: err.message, stack: err.stack, path: c.req.path }, 'unexpected error');
    return c.json({ error: { code: 'internal', message: 'internal error; the controller log has details' } }, 500);
  };
}

export function notFound(c: Context) {
  return c.json({ error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}` } }, 404);
}
