import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { Context } from './context.ts';
import { clientCode, ErrorCode, isClientError } from './errors.ts';

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
