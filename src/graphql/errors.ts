import { HeaderMap } from '@apollo/server';
import { ApolloServerErrorCode, unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, isValueNode, Kind, type GraphQLFormattedError } from 'graphql';

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
  /** Reserved for write conflicts; no operation returns it yet. */
  CONFLICT: 'CONFLICT',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** `extensions.reason` of UNAUTHENTICATED when the token was valid but has expired: refresh it. */
export const TOKEN_EXPIRED = 'TOKEN_EXPIRED';

const clientCodes = new Set<string>([
  ...Object.values(ErrorCode).filter((c) => c !== ErrorCode.INTERNAL_SERVER_ERROR),
  ...Object.values(ApolloServerErrorCode).filter((c) => c !== ApolloServerErrorCode.INTERNAL_SERVER_ERROR),
]);

/** No usable credentials for something that needs them. */
export function unauthenticated(message = 'Sign in to do this: send Authorization: Bearer <token>.'): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.UNAUTHENTICATED } });
}

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

/** The ownership error: the task exists but belongs to someone else. */
export function forbidden(message = 'This task belongs to another user.'): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.FORBIDDEN } });
}

export function notFound(message = 'No task has this id.'): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.NOT_FOUND } });
}

/** Invalid input; `field` is the argument path, e.g. `input.title`. */
export function badUserInput(field: string, problem: string): GraphQLError {
  return new GraphQLError(`${field}: ${problem}`, { extensions: { code: ErrorCode.BAD_USER_INPUT, field } });
}

/** True for errors meant for the client; anything else is a bug or an outage, and is masked. */
export function isClientError(error: unknown): boolean {
  const original = unwrapResolverError(error);
  return original instanceof GraphQLError && clientCodes.has(String(original.extensions['code']));
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
