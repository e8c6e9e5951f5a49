/**
 * Domain errors: what services, repositories and the auth layer throw when a request cannot be
 * served. They know nothing of GraphQL or HTTP; `src/graphql/errors.ts` is the one place that turns
 * each into its stable `extensions.code` (and HTTP status where the whole request fails).
 */
/**
 * The codes domain errors carry. Each is also in graphql/errors.ts's ErrorCode and in the schema's
 * `enum ErrorCode` (the compiler and test/error-codes.test.ts hold them together): a new domain
 * error's code goes into all three.
 */
export type DomainErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'CURSOR_EXPIRED'
  | 'SERVICE_UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'QUOTA_EXCEEDED';

export abstract class DomainError extends Error {
  /** The stable `extensions.code` clients branch on. */
  abstract readonly code: DomainErrorCode;
  /** Extra, client-safe facts that go into `extensions` (e.g. the field of bad input). */
  readonly details: Record<string, unknown>;
  constructor(message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.details = details;
  }
}

/** No usable credentials for something that needs them. */
export class Unauthenticated extends DomainError {
  override name = 'Unauthenticated';
  readonly code = 'UNAUTHENTICATED';
  constructor(message = 'Sign in to do this: send Authorization: Bearer <token>.') {
    super(message);
  }
}

/** The ownership error: the thing exists but belongs to someone else. Nothing of it is told. */
export class Forbidden extends DomainError {
  override name = 'Forbidden';
  readonly code = 'FORBIDDEN';
  constructor(message = 'This task belongs to another user.') {
    super(message);
  }
}

export class NotFound extends DomainError {
  override name = 'NotFound';
  readonly code = 'NOT_FOUND';
  constructor(message = 'No task has this id.') {
    super(message);
  }
}

/** Invalid input; `field` is the argument path, e.g. `input.title`. */
export class BadInput extends DomainError {
  override name = 'BadInput';
  readonly code = 'BAD_USER_INPUT';
  readonly field: string;
  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`, { field });
    this.field = field;
  }
}

/**
 * A position in the live feed (a `taskEvents` cursor) older than the changes kept: what happened
 * since cannot be told any more. The client refetches, then subscribes without a cursor.
 */
export class CursorExpired extends DomainError {
  override name = 'CursorExpired';
  readonly code = 'CURSOR_EXPIRED';
  constructor(message = 'This cursor is older than the changes kept: refetch, then subscribe after the eventsCursor of the new list.') {
    super(message);
  }
}

/** A write lost a race: the caller's view of the thing is out of date. */
export class Conflict extends DomainError {
  override name = 'Conflict';
  readonly code = 'CONFLICT';
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, details);
  }
}

/**
 * A dependency (the database) cannot answer now, or answered too slowly.
 * Retryable: HTTP 503 with `Retry-After` when the whole request fails.
 */
export class ServiceUnavailable extends DomainError {
  override name = 'ServiceUnavailable';
  readonly code = 'SERVICE_UNAVAILABLE';
  readonly retryAfterSeconds: number;
  constructor(message = 'The service is temporarily unavailable; try again shortly.', retryAfterSeconds = 5, options?: ErrorOptions) {
    super(message, { retryAfterSeconds }, options);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The caller went over a rate limit: HTTP 429 with `Retry-After` (whole seconds). */
export class RateLimited extends DomainError {
  override name = 'RateLimited';
  readonly code = 'RATE_LIMITED';
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number, details: Record<string, unknown> = {}) {
    super(message, { ...details, retryAfterSeconds }, undefined);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * The caller already stores as much as one user may (a number of tasks, bytes of text): waiting
 * does not help, deleting does. `details`: `limit` (the quota's figure) and `setting` (its variable).
 */
export class QuotaExceeded extends DomainError {
  override name = 'QuotaExceeded';
  readonly code = 'QUOTA_EXCEEDED';
}
