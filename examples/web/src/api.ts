import { authExchange } from '@urql/exchange-auth';
import { Client, cacheExchange, fetchExchange, subscriptionExchange, type CombinedError } from 'urql';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { SessionExpiredError, type TokenSource } from './tokens.ts';

/** graphql-ws close codes: 4403 = we close before the token expires (retried with a fresh token). */
const CLOSE_TOKEN_EXPIRING = 4403;

export interface Api {
  client: Client;
  ws: WsClient;
  /** Closes the WebSocket. Call when the user signs out or another user signs in. */
  dispose(): void;
}

function isAuthError(error: CombinedError): boolean {
  return (
    (error.response as Response | undefined)?.status === 401 ||
    error.graphQLErrors.some((e) => e.extensions.code === 'UNAUTHENTICATED' || e.extensions.reason === 'TOKEN_EXPIRED')
  );
}

/**
 * One urql client per signed-in user: a new user gets a new client, so no cached result of the
 * previous one can show. Exchange order as in urql's docs: cache, auth, fetch, subscription.
 * Queries go out as GET (urql's default); the Authorization header also satisfies the server's
 * CSRF prevention.
 */
export function createApi(tokens: TokenSource, onSessionExpired: () => void): Api {
  const origin = window.location.origin;
  let expiryTimer: ReturnType<typeof setTimeout> | undefined;
  const ws = createWsClient({
    url: `${origin.replace(/^http/, 'ws')}/graphql`,
    lazy: true,
    // Read on every (re)connect, so a reconnect always carries a valid token.
    connectionParams: async () => {
      try {
        return { authorization: `Bearer ${await tokens.get()}` };
      } catch (err) {
        if (err instanceof SessionExpiredError) onSessionExpired();
        throw err;
      }
    },
    retryAttempts: 5,
    on: {
      // The server checks the token once, when the socket opens. Close just before it expires;
      // graphql-ws reconnects (4403 is retried), asks connectionParams for a fresh token and
      // subscribes again.
      connected: (socket) => {
        clearTimeout(expiryTimer);
        expiryTimer = setTimeout(() => {
          const open = socket as WebSocket;
          if (open.readyState === WebSocket.OPEN) open.close(CLOSE_TOKEN_EXPIRING, 'Token expiring');
        }, tokens.msUntilRefresh());
      },
      closed: () => clearTimeout(expiryTimer),
    },
  });

  const client = new Client({
    url: `${origin}/graphql`,
    exchanges: [
      cacheExchange,
      authExchange(async (utils) => {
        // Start with a token if the session has one; a failure here is handled per operation.
        await tokens.get().catch(() => undefined);
        return {
          addAuthToOperation(operation) {
            const token = tokens.current();
            return token ? utils.appendHeaders(operation, { Authorization: `Bearer ${token}` }) : operation;
          },
          // Known to be expired (or about to be): refresh first instead of sending it.
          willAuthError: () => tokens.expiresSoon(),
          // The server refused it (expired, or signed by a key it no longer has): refresh and
          // retry once. authExchange never retries an operation twice, so this cannot loop.
          didAuthError: isAuthError,
          async refreshAuth() {
            try {
              await tokens.refresh();
            } catch (err) {
              if (err instanceof SessionExpiredError) onSessionExpired();
              // Anything else (offline): the operation goes out without a fresh token and its
              // error is shown where it was made.
            }
          },
        };
      }),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
        }),
      }),
    ],
  });

  return {
    client,
    ws,
    dispose: () => {
      clearTimeout(expiryTimer);
      void ws.dispose();
    },
  };
}
