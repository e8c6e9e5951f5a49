import { authExchange } from '@urql/exchange-auth';
import { Client, fetchExchange, type CombinedError } from 'urql';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { SessionExpiredError, type TokenSource } from './tokens.ts';
import { sendById } from './documents.ts';

/**
 * The server's close codes (see NOTES-live.md). graphql-ws reconnects by itself after 4403, 1001
 * and 1013, calling connectionParams again; it gives up after 4429 and other fatal codes, and the
 * subscription then ends with the CloseEvent as its error (live-updates.ts starts again).
 */
export const CloseCode = {
  /** Token missing, invalid, expired, or the user signed out or was deleted: new token, reconnect. */
  FORBIDDEN: 4403,
  /** Too many sockets for this user (WS_MAX_CONNECTIONS_PER_USER). Fatal for graphql-ws 6.4. */
  TOO_MANY: 4429,
} as const;

/** The reason this app gives when it closes its own socket to change tokens. */
const TOKEN_EXPIRING = 'Token expiring';
const MAX_RETRY_WAIT_MS = 30_000;

export interface Api {
  client: Client;
  ws: WsClient;
  /** Closes the WebSocket. Call when the user signs out or another user signs in. */
  dispose(): void;
}

/** A close this app made itself to change tokens: it reconnects at once, nothing is wrong. */
export function isTokenChange(event: unknown): boolean {
  const close = event as Partial<CloseEvent> | undefined;
  return close?.code === CloseCode.FORBIDDEN && close.reason === TOKEN_EXPIRING;
}

function isAuthError(error: CombinedError): boolean {
  return (
    (error.response as Response | undefined)?.status === 401 ||
    error.graphQLErrors.some((e) => e.extensions.code === 'UNAUTHENTICATED' || e.extensions.reason === 'TOKEN_EXPIRED')
  );
}

/**
 * One urql client per signed-in user: a new user gets a new client, so no result of the previous
 * one can show. No document cache: it fetches a list again after every mutation, and this app
 * keeps its list current from live updates instead (live-updates.ts, which uses `ws` directly).
 * Exchange order as in urql's docs: auth, then sendById just before fetch.
 * Operations go out by id, never as text (`{ documentId }`, sendById in documents.ts): the API
 * runs only the documents this app was built with. Queries go out as GET (urql's default); the Authorization
 * header also satisfies the server's CSRF prevention.
 */
export function createApi(tokens: TokenSource, onSessionExpired: () => void): Api {
  const origin = window.location.origin;
  let expiryTimer: ReturnType<typeof setTimeout> | undefined;
  /** The server refused the last token (4403): get a new one whatever this browser's clock says. */
  let refuseCached = false;
  /** This app closed the socket to change tokens: reconnect without waiting. */
  let changingToken = false;

  const ws = createWsClient({
    url: `${origin.replace(/^http/, 'ws')}/graphql`,
    // Opened by the first subscription, closed when the last ends: a subscription started again
    // after a failure gets a new socket.
    lazy: true,
    // Read on every (re)connect, so a reconnect always carries a valid token. A throw here closes
    // the socket with 4005, which graphql-ws treats as fatal (live-updates.ts subscribes again).
    connectionParams: async () => {
      try {
        const token = refuseCached ? await tokens.refresh() : await tokens.get();
        refuseCached = false;
        return { authorization: `Bearer ${token}` };
      } catch (err) {
        if (err instanceof SessionExpiredError) onSessionExpired();
        throw err;
      }
    },
    // Reconnect for as long as the page is open (1013 while the server cannot hear the database,
    // 1001 while it restarts), backing off to 30 s; each reconnect resumes from the tab's last
    // event (live-updates.ts), so nothing is fetched again.
    retryAttempts: Infinity,
    retryWait: async (retries) => {
      if (changingToken) {
        changingToken = false;
        return;
      }
      // 0.5-1 s, then doubling; jittered so that the tabs a restart closed do not come back at once.
      const ms = Math.min(MAX_RETRY_WAIT_MS, 1000 * 2 ** retries) * (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, ms));
    },
    on: {
      // The server checks the token when the socket opens and closes it (4403) at its expiry.
      // Change tokens a little earlier instead: get the next token first, then close; graphql-ws
      // reconnects at once with it and subscribes again, from the last event the tab received:
      // whatever changed in the few milliseconds between arrives then.
      connected: (socket) => {
        clearTimeout(expiryTimer);
        expiryTimer = setTimeout(() => {
          void tokens
            .refresh()
            .catch((err: unknown) => {
              if (err instanceof SessionExpiredError) onSessionExpired();
            })
            .finally(() => {
              const open = socket as WebSocket;
              if (open.readyState !== WebSocket.OPEN) return;
              changingToken = true;
              open.close(CloseCode.FORBIDDEN, TOKEN_EXPIRING);
            });
        }, tokens.msUntilRefresh());
      },
      closed: (event) => {
        clearTimeout(expiryTimer);
        // Refused by the server ("token expired", "invalid token", "signed out", "user deleted"):
        // ask for a new token on the reconnect; when the session is gone, that fails and the app
        // returns to the sign-in form.
        if ((event as Partial<CloseEvent>).code === CloseCode.FORBIDDEN && !isTokenChange(event)) refuseCached = true;
      },
    },
  });

  const client = new Client({
    url: `${origin}/graphql`,
    exchanges: [
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
      sendById,
      fetchExchange,
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
