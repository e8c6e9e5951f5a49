import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type FormattedExecutionResult } from 'graphql';
import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import WebSocket from 'ws';
import { eventually, WAIT_MS } from './poll.ts';

// Tests of live updates import the poller from here too.
export { eventually } from './poll.ts';

export interface Closed {
  code: number;
  reason: string;
}

/** A real graphql-ws client (the one urql's subscriptionExchange uses) and what it saw. */
export interface LiveClient {
  client: Client;
  /** Close events of the socket, in order (one per connection the client made). */
  closes: Closed[];
  /** Times the client was acknowledged (connected), reconnections included. */
  connections: number;
  dispose(): Promise<void>;
}

export function wsUrl(graphqlUrl: string): string {
  return graphqlUrl.replace(/^http/, 'ws');
}

/**
 * A graphql-ws client for `graphqlUrl`, sending `token()` in connection_init (called again on
 * every reconnection, as an app refreshing its token there would). No retries unless asked.
 */
export function liveClient(graphqlUrl: string, token: () => string | Promise<string>, options: Partial<ClientOptions> = {}): LiveClient {
  const state: LiveClient = {
    client: undefined as unknown as Client,
    closes: [],
    connections: 0,
    dispose: async () => {
      await state.client.dispose();
    },
  };
  state.client = createClient({
    url: wsUrl(graphqlUrl),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    retryWait: () => new Promise((r) => setTimeout(r, 50)),
    connectionParams: async () => ({ authorization: `Bearer ${await token()}` }),
    on: {
      connected: () => state.connections++,
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        state.closes.push({ code, reason });
      },
    },
    // Errors surface through `closes` and the subscriptions; keep the test output quiet.
    onNonLazyError: () => {},
    ...options,
  });
  return state;
}

export interface Subscription<TData> {
  results: Array<FormattedExecutionResult<TData>>;
  /** When each result arrived (Date.now()), in the same order. */
  arrivals: number[];
  /** Set when the operation ended with an error message (or the socket closed under it). */
  error: unknown;
  completed: boolean;
  unsubscribe(): void;
}

/** Subscribes and records every result; never throws (tests assert on what arrived). */
export function subscribe<TData, TVars extends Record<string, unknown>>(
  live: LiveClient,
  document: TypedDocumentNode<TData, TVars> | string,
  variables?: TVars,
): Subscription<TData> {
  const sub: Subscription<TData> = { results: [], arrivals: [], error: undefined, completed: false, unsubscribe: () => {} };
  sub.unsubscribe = live.client.subscribe<TData>(
    { query: typeof document === 'string' ? document : print(document), ...(variables ? { variables } : {}) },
    {
      next: (result) => {
        sub.results.push(result as FormattedExecutionResult<TData>);
        sub.arrivals.push(Date.now());
      },
      error: (err) => (sub.error = err ?? 'error'),
      complete: () => (sub.completed = true),
    },
  );
  return sub;
}

/** Resolves once the client is acknowledged `n` times in total. */
export function connected(live: LiveClient, n = 1, timeoutMs = WAIT_MS): Promise<true> {
  return eventually(() => (live.connections >= n ? true : undefined), timeoutMs, `${n} connection(s)`);
}

/** The first close event, within `timeoutMs`. */
export function closed(live: LiveClient, timeoutMs = WAIT_MS, n = 1): Promise<Closed> {
  return eventually(() => live.closes[n - 1], timeoutMs, 'the socket to close');
}
