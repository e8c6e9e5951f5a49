import { HeaderMap } from '@apollo/server';
import { ApolloServerErrorCode, unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, isValueNode, Kind, type GraphQLFormattedError } from 'graphql';
import { DomainError } from '../errors.ts';

/**
 * The `extensions.code` values this API returns. Clients branch on these; they never change.
 * Apollo Server adds its own request-level codes (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED,
 * BAD_REQUEST, ...), passed through as they are.
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  /** A write conflict (e.g. a stale `expectedVersion`). */
  CONFLICT: 'CONFLICT',
  /** Over a rate limit: HTTP 429 and `Retry-After`. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** The database (or another dependency) is unreachable or too slow: HTTP 503 and `Retry-After`. */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  /** `Idempotency-Key` empty or longer than 255 characters: HTTP 400. */
  IDEMPOTENCY_KEY_INVALID: 'IDEMPOTENCY_KEY_INVALID',
  /** The same `Idempotency-Key` was used with another request body: HTTP 422. */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  /** The first request with this `Idempotency-Key` is still running: HTTP 409 and `Retry-After`. */
  IDEMPOTENCY_IN_PROGRESS: 'IDEMPOTENCY_IN_PROGRESS',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** `extensions.reason` of UNAUTHENTICATED when the token was valid but has expired: refresh it. */
export const TOKEN_EXPIRED = 'TOKEN_EXPIRED';

const clientCodes = new Set<string>([
  ...Object.values(ErrorCode).filter((c) => c !== ErrorCode.INTERNAL_SERVER_ERROR),
  ...Object.values(ApolloServerErrorCode).filter((c) => c !== ApolloServerErrorCode.INTERNAL_SERVER_ERROR),
]);

/**
 * A token was sent but is not acceptable. Refused for the whole request with HTTP 401 and the
 * RFC 6750 challenge; which check failed is not told, except that an expired token says so.
 */
export function invalidToken(expired: boolean): GraphQLError {
  return new GraphQLError(expired ? 'The token has expired; get a new one.' : 'The token is invalid.', {
    extensions: {
      code: ErrorCode.UNAUTHENTICATED,
      ...(expired ? { reason: TOKEN_EXPIRED } : {}),
      http: {
        status: 401,
        headers: new HeaderMap([
          [
            'www-authenticate',
            `Bearer error="invalid_token", error_description="${expired ? 'The token has expired' : 'The token is invalid'}"`,
          ],
        ]),
      },
    },
  });
}

/** HTTP status of a request that fails as a whole with this domain error (thrown by the context). */
const REQUEST_STATUS: Record<string, number> = { UNAUTHENTICATED: 401, RATE_LIMITED: 429, SERVICE_UNAVAILABLE: 503 };

/**
 * A domain error that fails the whole request before execution (thrown from the context function):
 * its code, its HTTP status and, for retryable refusals, `Retry-After` in whole seconds.
 */
export function requestError(error: DomainError): GraphQLError {
  const headers = new HeaderMap();
  const retryAfter = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds;
  if (typeof retryAfter === 'number') headers.set('retry-after', String(Math.max(1, Math.ceil(retryAfter))));
  return new GraphQLError(error.message, {
    originalError: error,
    extensions: { ...error.details, code: error.code, http: { status: REQUEST_STATUS[error.code] ?? 400, headers } },
  });
}

/** The code an error will carry for the client (before formatting), or undefined when it is masked. */
export function clientCode(error: unknown): string | undefined {
  const original = unwrapResolverError(error);
  if (original instanceof DomainError) return original.code;
  if (original instanceof GraphQLError && clientCodes.has(String(original.extensions['code']))) return String(original.extensions['code']);
  if (error instanceof GraphQLError && clientCodes.has(String(error.extensions['code']))) return String(error.extensions['code']);
  return undefined;
}

/** True for errors meant for the client; anything else is a bug or an outage, and is masked. */
export function isClientError(error: unknown): boolean {
  return clientCode(error) !== undefined;
}

/**
 * Apollo's `formatError`: client errors go out as they are (without stack traces outside
 * development); anything else is replaced by a generic INTERNAL_SERVER_ERROR. The original is
 * logged with the request id by the errors plugin, which puts the id in `extensions.requestId`.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  // A literal of the wrong type written in the query (`dueAt: "next tuesday"`) is bad input like a
  // wrong variable, which Apollo already reports as BAD_USER_INPUT: one code for both.
  // (graphql-js reports those against the literal's node; the DateTime scalar marks its own.)
  if (formatted.extensions?.['code'] === ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED && error instanceof GraphQLError) {
    const node = error.nodes?.[0];
    const cause = error.originalError;
    const badLiteral =
      (node !== undefined && isValueNode(node) && node.kind !== Kind.VARIABLE) ||
      (cause instanceof GraphQLError && cause.extensions['code'] === ErrorCode.BAD_USER_INPUT);
    if (badLiteral) return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.BAD_USER_INPUT } };
  }
  const original = unwrapResolverError(error);
  if (original instanceof DomainError) {
    // The one place where a domain error becomes its code: the message and client-safe details.
    return { ...formatted, message: original.message, extensions: { ...original.details, code: original.code } };
  }
  if (isClientError(error)) return formatted;
  return {
    message: 'Internal server error',
    ...(formatted.locations ? { locations: formatted.locations } : {}),
    ...(formatted.path ? { path: formatted.path } : {}),
    extensions: {
      code: ErrorCode.INTERNAL_SERVER_ERROR,
      ...(formatted.extensions?.['requestId'] ? { requestId: formatted.extensions['requestId'] } : {}),
    },
  };
}

/** An HTTP response built outside Apollo, in the GraphQL response shape clients already parse. */
export interface Refusal {
  status: number;
  headers: Record<string, string>;
  body: { errors: Array<{ message: string; extensions: Record<string, unknown> }> };
}

/**
 * A GraphQL request refused before it reaches Apollo (the server is still starting, a problem with
 * its Idempotency-Key): one error with `code`, the HTTP `status`, and `Retry-After` when given.
 */
export function refusal(status: number, code: string, message: string, retryAfterSeconds?: number, details: Record<string, unknown> = {}): Refusal {
  const headers: Record<string, string> = {};
  if (retryAfterSeconds !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  return { status, headers, body: { errors: [{ message, extensions: { ...details, code } }] } };
}

/** `refusal` for a domain error, with the status `requestError` gives it. */
export function domainRefusal(error: DomainError): Refusal {
  const retryAfter = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds;
  return refusal(REQUEST_STATUS[error.code] ?? 400, error.code, error.message, typeof retryAfter === 'number' ? retryAfter : undefined, error.details);
}
