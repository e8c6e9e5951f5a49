import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { Context } from './context.ts';
import { ServiceUnavailable } from '../errors.ts';
import { clientCode, domainErrorOf, ErrorCode, isClientError } from './errors.ts';

const done = Promise.resolve();

/**
 * Logs every error that is not meant for the client (bugs, outages) with the request id, and
 * puts that id in the error so that the masked message the client sees can be traced.
 */
export const logUnexpectedErrors: ApolloServerPlugin<Context> = {
  requestDidStart: () =>
    Promise.resolve({
      didEncounterErrors({ contextValue, errors, operationName }) {
        for (const error of errors) {
          const domain = domainErrorOf(error);
          if (domain instanceof ServiceUnavailable) {
            // An outage, not a bug: worth a warning with its cause, which the client never sees.
            contextValue.logger.warn({ err: domain.cause ?? domain, path: error.path, operationName }, 'database unavailable');
            continue;
          }
          if (isClientError(error)) continue;
          contextValue.logger.error({ err: unwrapResolverError(error), path: error.path, operationName }, 'unexpected error');
          (error.extensions as Record<string, unknown>)['requestId'] = contextValue.requestId;
        }
        return done;
      },
    }),
};

/**
 * HTTP 401 (with the Bearer challenge) when an operation failed only for want of signing in:
 * every error is UNAUTHENTICATED and no field produced data. Partial successes stay 200.
 */
export const unauthenticatedStatus: ApolloServerPlugin<Context> = {
  requestDidStart: () =>
    Promise.resolve({
      willSendResponse({ response, errors }) {
        if (response.body.kind !== 'single' || !errors?.length) return done;
        const allUnauthenticated = errors.every((e) => clientCode(e) === ErrorCode.UNAUTHENTICATED);
        const data = response.body.singleResult.data;
        const nothingResolved = !data || Object.values(data).every((v) => v === null);
        if (allUnauthenticated && nothingResolved) {
          response.http.status = 401;
          response.http.headers.set('www-authenticate', 'Bearer');
        }
        return done;
      },
    }),
};

/**
 * HTTP 503 with `Retry-After` when an operation failed because a dependency was unavailable and
 * nothing else succeeded: clients and proxies then retry as they would any 503. (A failure of the
 * context, e.g. the user lookup, already carries its 503 from `requestError`.) Partial successes stay 200.
 */
export const serviceUnavailableStatus: ApolloServerPlugin<Context> = {
  requestDidStart: () =>
    Promise.resolve({
      willSendResponse({ response, errors }) {
        if (response.body.kind !== 'single' || !errors?.length) return done;
        const data = response.body.singleResult.data;
        const nothingResolved = !data || Object.values(data).every((v) => v === null);
        if (!nothingResolved) return done;
        let retryAfter = 0;
        for (const error of errors) {
          const domain = domainErrorOf(error);
          if (domain instanceof ServiceUnavailable) retryAfter = Math.max(retryAfter, domain.retryAfterSeconds);
        }
        if (retryAfter > 0) {
          response.http.status = 503;
          response.http.headers.set('retry-after', String(Math.ceil(retryAfter)));
        }
        return done;
      },
    }),
};
