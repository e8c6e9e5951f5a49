import { ServiceUnavailable } from '../errors.ts';

/** How long clients are asked to wait before retrying after the database failed them. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

// SQLSTATEs that mean "the database cannot serve this now", not "this request is wrong":
// 57014 query_canceled (statement_timeout), 55P03 lock_not_available (lock_timeout),
// 25P03 idle_in_transaction_session_timeout, 57P01-57P03 admin/crash shutdown, cannot connect now,
// 53300 too_many_connections, and class 08 (connection exceptions).
const UNAVAILABLE_STATES = new Set(['57014', '55P03', '25P03', '57P01', '57P02', '57P03', '53300']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);
// node-postgres and pg-pool report these as plain Errors, without a code.
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/, // reset, or the server went away (also "... due to connection timeout")
  /^timeout exceeded when trying to connect/, // pg-pool: no connection within connectionTimeoutMillis
  /^Query read timeout/, // query_timeout, the client-side backstop
  /is not queryable/, // a client whose connection already failed
  /^Connection timed out/,
];

function code(err: object): string | undefined {
  const value = (err as { code?: unknown }).code;
  return typeof value === 'string' ? value : undefined;
}

/**
 * Whether `err` (or an error it wraps) says that the database is unreachable, too slow, or
 * refusing work for now: a retryable condition, not a bug.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const c = code(e);
    if (c && (UNAVAILABLE_STATES.has(c) || c.startsWith('08') || NETWORK_CODES.has(c))) return true;
    if (UNAVAILABLE_MESSAGES.some((m) => m.test(e.message))) return true;
    if (e instanceof AggregateError && e.errors.some((inner) => isDatabaseUnavailable(inner))) return true;
  }
  return false;
}

/** `err` as the domain error clients should see: ServiceUnavailable for database outages, else as is. */
export function databaseError(err: unknown): unknown {
  if (!isDatabaseUnavailable(err)) return err;
  return new ServiceUnavailable('The database is unavailable or too slow right now; try again shortly.', DATABASE_RETRY_AFTER_SECONDS, {
    cause: err,
  });
}
