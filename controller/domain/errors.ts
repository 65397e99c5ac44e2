// Errors that carry what went wrong, what to do, and the HTTP status that fits.

export type ErrorCode =
  | 'bad_request'
  | 'invalid_name'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'template_not_ready'
  | 'import_failed'
  | 'port_pool_exhausted'
  | 'insufficient_storage'
  | 'docker_unavailable'
  | 'storage_unavailable'
  | 'timeout'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  invalid_name: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  template_not_ready: 409,
  import_failed: 422,
  port_pool_exhausted: 503,
  insufficient_storage: 507,
  docker_unavailable: 503,
  storage_unavailable: 503,
  timeout: 504,
  internal: 500,
};

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = STATUS[code];
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** The message of anything thrown, without stack. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** The state DB's unique index `index` refused a write (e.g. instances_name_live). */
export class UniqueViolation extends Error {
  constructor(readonly index: string) {
    super(`unique index ${index} refused the write`);
    this.name = 'UniqueViolation';
  }
}
