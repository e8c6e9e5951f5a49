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
  /^Batch wait timeout/, // db/batcher.ts: no turn for a batched read within the pool's acquire bound
  /^Pool share wait timeout/, // db/pool-share.ts: the user's earlier statements held their share too long
];

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
  /** graphql-js wraps a thrown value that is not an Error (of its realm) in NonErrorThrown. */
  thrownValue?: unknown;
}

/**
 * Whether `err` (or an error it wraps) says that the database is unreachable, too slow, or
 * refusing work for now: a retryable condition, not a bug. Duck-typed rather than `instanceof
 * Error`: socket errors come from Node's own realm, which is not the caller's under a VM (Jest).
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 5) return false;
  const { code, message, cause, errors, thrownValue } = err as ErrorLike;
  if (typeof code === 'string' && (UNAVAILABLE_STATES.has(code) || code.startsWith('08') || NETWORK_CODES.has(code))) return true;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((m) => m.test(message))) return true;
  // AggregateError: e.g. a connection to "localhost" that failed on both ::1 and 127.0.0.1.
  if (Array.isArray(errors) && errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return isDatabaseUnavailable(cause, depth + 1) || isDatabaseUnavailable(thrownValue, depth + 1);
}

/** `err` as the domain error clients should see: ServiceUnavailable for database outages, else as is. */
export function databaseError(err: unknown): unknown {
  if (!isDatabaseUnavailable(err)) return err;
  return new ServiceUnavailable('The database is unavailable or too slow right now; try again shortly.', DATABASE_RETRY_AFTER_SECONDS, {
    cause: err,
  });
}

/**
 * Whether PostgreSQL answered the statement with an error of its own (an ErrorResponse with a
 * SQLSTATE: a constraint, a trigger's exception, a lock not granted in time): then an autocommit
 * statement wrote nothing, and running its parts again cannot write anything twice. Not for a
 * connection lost or timed out on the client's side (the statement may have committed before the
 * answer was lost), nor for the database refusing work for now (an outage or an overload:
 * running each part again would only multiply the load), but for a lock not granted (55P03) or a
 * deadlock (40P01), which are about the rows, not the database.
 */
export function refusedStatement(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { code, severity } = err as { code?: unknown; severity?: unknown };
  if (typeof severity !== 'string' || typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return false;
  return code === '55P03' || code === '40P01' || !isDatabaseUnavailable(err);
}
