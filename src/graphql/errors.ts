import { HeaderMap } from '@apollo/server';
import { ApolloServerErrorCode, ApolloServerValidationErrorCode, unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, isValueNode, Kind, type GraphQLFormattedError } from 'graphql';
import { databaseError } from '../db/errors.ts';
import { DomainError, ServiceUnavailable, type DomainErrorCode } from '../errors.ts';
import type { ErrorCode as SchemaErrorCode } from './generated/enums.ts';

/**
 * Every `extensions.code` this API sends, over HTTP and WebSocket: the one list. Clients branch on
 * these; they never change. The schema's `enum ErrorCode` (schema/errors.graphql, with a description
 * of each) must list exactly these, which the compiler checks below; so must docs/errors.md
 * (test/error-codes.test.ts). Apollo Server's own codes are here too: they pass through.
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  /** A write conflict (e.g. a stale `expectedVersion`). */
  CONFLICT: 'CONFLICT',
  /** `taskEvents(after:)` with a cursor older than TASK_EVENTS_RETENTION_SECONDS: refetch, subscribe without it. */
  CURSOR_EXPIRED: 'CURSOR_EXPIRED',
  /** Over a rate limit: HTTP 429 and `Retry-After`. */
  RATE_LIMITED: 'RATE_LIMITED',
  /**
   * Over a quota that waiting does not refill: free something first. `extensions.limit` is the
   * setting's value, `extensions.setting` names the variable. WS_MAX_SUBSCRIPTIONS_PER_USER (a
   * subscription refused), IDEMPOTENCY_MAX_KEYS_PER_USER (HTTP 403, nothing ran), and the storage
   * quotas MAX_TASKS_PER_USER and MAX_TASK_TEXT_BYTES_PER_USER (nothing stored).
   */
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  /** The database (or another dependency) is unreachable or too slow: HTTP 503 and `Retry-After`. */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  /** Over the depth, directive or cost limit (or nested too deeply to process); nothing ran. HTTP 400. */
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  /** Over the alias limit (GRAPHQL_MAX_ALIASES); nothing ran. HTTP 400. */
  TOO_MANY_ALIASES: 'TOO_MANY_ALIASES',
  /** Over the token limit (GRAPHQL_MAX_TOKENS); not even parsed. HTTP 400. */
  TOO_MANY_TOKENS: 'TOO_MANY_TOKENS',
  /** A syntax error (Apollo's code, used over WebSocket too). HTTP 400. */
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  /** The operation does not match the schema (Apollo's code, used over WebSocket too). HTTP 400. */
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  /** Not a request this server takes (Apollo's code, also for bad JSON and over WebSocket). HTTP 400. */
  BAD_REQUEST: 'BAD_REQUEST',
  /** The request body is over the limit: HTTP 413 (also /api/auth's code for it). */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** The request body did not arrive in time: HTTP 408. */
  REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  /** `Idempotency-Key` empty, longer than 255 characters or not printable ASCII: HTTP 400. */
  IDEMPOTENCY_KEY_INVALID: 'IDEMPOTENCY_KEY_INVALID',
  /** The same `Idempotency-Key` was used with another request body: HTTP 422. */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  /** The first request with this `Idempotency-Key` is still running: HTTP 409 and `Retry-After`. */
  IDEMPOTENCY_IN_PROGRESS: 'IDEMPOTENCY_IN_PROGRESS',
  /**
   * The first request with this `Idempotency-Key` ran, but its response was over
   * IDEMPOTENCY_MAX_RESPONSE_BYTES and was not kept: nothing to replay, and it does not run again.
   * HTTP 409.
   */
  IDEMPOTENCY_RESPONSE_NOT_KEPT: 'IDEMPOTENCY_RESPONSE_NOT_KEPT',
  /**
   * PERSISTED_DOCUMENTS_ONLY=true: the operation was sent as text (even text that is in the
   * manifest); send its id instead. HTTP 400. The name Apollo Router and GraphQL Yoga use.
   */
  PERSISTED_QUERY_ID_REQUIRED: 'PERSISTED_QUERY_ID_REQUIRED',
  /** The document id is not in the manifest (PERSISTED_DOCUMENTS_FILE): HTTP 400. Apollo Router's and Yoga's name. */
  PERSISTED_QUERY_NOT_IN_LIST: 'PERSISTED_QUERY_NOT_IN_LIST',
  /** Apollo's automatic persisted queries: an unknown hash. */
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  /** Apollo's automatic persisted queries: turned off. */
  PERSISTED_QUERY_NOT_SUPPORTED: 'PERSISTED_QUERY_NOT_SUPPORTED',
  /** Apollo's: which operation of the document to run cannot be told. */
  OPERATION_RESOLUTION_FAILURE: 'OPERATION_RESOLUTION_FAILURE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const satisfies { [Code in SchemaErrorCode]: Code };
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

// What the compiler holds together (an error here names the codes missing on one side): the
// schema's enum and the list above are the same (`satisfies`: none missing, none extra); Apollo's
// codes, which pass through, and the domain errors' codes are all in the list.
type NoneMissing<Missing extends never> = Missing;
type _ApolloCodesListed = NoneMissing<Exclude<`${ApolloServerErrorCode}`, ErrorCode>>;
type _DomainCodesListed = NoneMissing<Exclude<DomainErrorCode, ErrorCode>>;

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
          ['www-authenticate', `Bearer error="invalid_token", error_description="${expired ? 'The token has expired' : 'The token is invalid'}"`],
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

const LIMIT_CODES = new Set<string>([ErrorCode.QUERY_TOO_COMPLEX, ErrorCode.TOO_MANY_ALIASES, ErrorCode.TOO_MANY_TOKENS]);

/**
 * A refusal for going over an operation limit: names the limit, its number and its setting
 * (`extensions.limit`, `max`, and `found` when counted), so that a client developer can act on it.
 */
export function limitExceeded(code: ErrorCode, setting: string, what: string, found: number | undefined, max: number): GraphQLError {
  const uses = found === undefined ? `more than ${max} ${what}` : `${found} ${what}`;
  return new GraphQLError(`The operation uses ${uses}; at most ${max} are allowed (${setting}).`, {
    extensions: { code, limit: setting, max, ...(found === undefined ? {} : { found }) },
  });
}

/** graphql-js's own message ("more that" is its spelling) when `parse(..., { maxTokens })` stops. */
export const TOKEN_LIMIT_MESSAGE = /^Syntax Error: Document contains more that (\d+) tokens\. Parsing aborted\.$/;
const VALIDATION_ABORTED = 'Too many validation errors, error limit reached. Validation aborted.';

/**
 * Refusals of operations too big to run, with their own codes although Apollo files them under
 * GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED: the limits of src/graphql/limits.ts, the token
 * limit of the parser, graphql-js's cap on validation errors, and a stack overflow on deeply
 * nested input. Undefined for any other error.
 */
function limitRefusal(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError | undefined {
  const code = formatted.extensions?.['code'];
  const cause = error instanceof GraphQLError ? error.originalError : undefined;
  if (
    code === ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED &&
    cause instanceof GraphQLError &&
    LIMIT_CODES.has(String(cause.extensions['code']))
  ) {
    return { message: cause.message, ...(formatted.locations ? { locations: formatted.locations } : {}), extensions: { ...cause.extensions } };
  }
  const tokens = TOKEN_LIMIT_MESSAGE.exec(formatted.message);
  if (code === ApolloServerErrorCode.GRAPHQL_PARSE_FAILED && tokens) {
    const { message, extensions } = limitExceeded(ErrorCode.TOO_MANY_TOKENS, 'GRAPHQL_MAX_TOKENS', 'tokens', undefined, Number(tokens[1]));
    return { message, extensions };
  }
  if (code === ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED && formatted.message === VALIDATION_ABORTED) {
    return {
      message: 'The operation has more than 100 validation errors; validation stopped there. Fix the errors reported and send it again.',
      extensions: { code },
    };
  }
  // graphql-js's parser recurses per level of nesting: a document deep enough (possible when
  // GRAPHQL_MAX_TOKENS is raised) overflows the stack, which Apollo reports as a parse failure.
  const original = unwrapResolverError(error);
  if (formatted.message === 'Maximum call stack size exceeded' || (original instanceof RangeError && /call stack/i.test(original.message))) {
    return {
      message: 'The operation or its variables are nested too deeply to process; flatten them.',
      extensions: { code: ErrorCode.QUERY_TOO_COMPLEX },
    };
  }
  return undefined;
}

/**
 * The domain error behind `error`, if any. A database outage that reached here unclassified (from
 * code that did not catch it) is a ServiceUnavailable too: a retryable answer, never a masked 500.
 */
export function domainErrorOf(error: unknown): DomainError | undefined {
  const original = unwrapResolverError(error);
  if (original instanceof DomainError) return original;
  const classified = databaseError(original);
  return classified instanceof ServiceUnavailable ? classified : undefined;
}

/** The code an error will carry for the client (before formatting), or undefined when it is masked. */
export function clientCode(error: unknown): string | undefined {
  const domain = domainErrorOf(error);
  if (domain) return domain.code;
  const original = unwrapResolverError(error);
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
  const refusal = limitRefusal(formatted, error);
  if (refusal) return refusal;
  // Apollo's message tells to "pass introspection: true to ApolloServer": name this server's setting.
  if (formatted.extensions?.['validationErrorCode'] === ApolloServerValidationErrorCode.INTROSPECTION_DISABLED) {
    return { ...formatted, message: INTROSPECTION_DISABLED_MESSAGE };
  }
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
  const domain = domainErrorOf(error);
  if (domain) {
    // The one place where a domain error becomes its code: the message and client-safe details.
    return { ...formatted, message: domain.message, extensions: { ...domain.details, code: domain.code } };
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

/** What a client reads when introspection is off (GRAPHQL_INTROSPECTION; off by default in production). */
const INTROSPECTION_DISABLED_MESSAGE =
  'Introspection (__schema, __type) is disabled on this server (GRAPHQL_INTROSPECTION=false, the default when NODE_ENV=production); ' +
  'set GRAPHQL_INTROSPECTION=true on the server to enable it.';

const SUGGESTION = / ?Did you mean [^?]*\?/g;

/**
 * Production: no "Did you mean ...?" in any message. Apollo's hideSchemaDetailsFromClientErrors
 * strips them from validation errors only; variable coercion errors (e.g. a misspelt enum value
 * or input field in `variables`) still carried them, leaking the schema.
 */
export function withoutSuggestions(format: typeof formatError): typeof formatError {
  return (formatted, error) => {
    const result = format(formatted, error);
    return result.message.includes('Did you mean') ? { ...result, message: result.message.replace(SUGGESTION, '') } : result;
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
export function refusal(
  status: number,
  code: ErrorCode,
  message: string,
  retryAfterSeconds?: number,
  details: Record<string, unknown> = {},
): Refusal {
  const headers: Record<string, string> = {};
  const extensions: Record<string, unknown> = { ...details, code };
  if (retryAfterSeconds !== undefined) {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
    headers['retry-after'] = String(seconds);
    // The same wait in the body, for clients that do not read headers (and over WebSocket there are none).
    extensions['retryAfterSeconds'] ??= seconds;
  }
  return { status, headers, body: { errors: [{ message, extensions }] } };
}

/** `refusal` for a domain error, with the status `requestError` gives it. */
export function domainRefusal(error: DomainError): Refusal {
  const retryAfter = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds;
  return refusal(
    REQUEST_STATUS[error.code] ?? 400,
    error.code,
    error.message,
    typeof retryAfter === 'number' ? retryAfter : undefined,
    error.details,
  );
}
