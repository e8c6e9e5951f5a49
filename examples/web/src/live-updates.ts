import { useCallback, useEffect, useRef, useState } from 'react';
import type { FormattedExecutionResult } from 'graphql';
import { CloseCode, type Api } from './api.ts';
import { documentIdOf } from './documents.ts';
import { LiveTaskEventsDocument, type LiveTaskEventsSubscription } from './gql/graphql.ts';

export type LiveStatus = 'connecting' | 'live' | 'off';
export type LiveEvent = LiveTaskEventsSubscription['taskEvents'];

/** Waits before subscribing again after the subscription ended with an error. */
function restartDelayMs(failures: number, closeCode: number | undefined): number {
  // Too many sockets for this user (other tabs): one may close; no point asking often.
  if (closeCode === CloseCode.TOO_MANY) return 30_000 * (0.5 + Math.random() / 2);
  return Math.min(30_000, 1000 * 2 ** failures) * (0.5 + Math.random() / 2);
}

/** The refusals that mean the cursor cannot be resumed from: only a fresh list (and its cursor) helps. */
const UNRESUMABLE = new Set(['CURSOR_EXPIRED', 'BAD_USER_INPUT']);

function codes(errors: unknown): unknown[] {
  return Array.isArray(errors) ? errors.map((e) => (e as { extensions?: { code?: unknown } }).extensions?.code) : [];
}

export interface LiveUpdates {
  status: LiveStatus;
  /**
   * Starts live updates from `cursor` (a list's eventsCursor) unless they are running already:
   * they then hold a later cursor of their own. The board calls it with each first page it loads.
   */
  startFrom: (cursor: string) => void;
}

/**
 * Keeps the task list current while another tab or device changes it, without fetching it again:
 * the subscription starts from the cursor of the list the tab loaded (so nothing committed
 * between loading and subscribing is lost), `onEvent` patches the list with each change, and the
 * tab keeps the cursor of the last event. Every reconnect (a laptop waking up, a network change,
 * a deploy, a token change) resumes from that cursor: the server sends exactly what the tab missed.
 * Only when the cursor cannot be resumed from (CURSOR_EXPIRED: away longer than the server keeps
 * changes) does `onExpired` ask for the list again, whose cursor then starts a new subscription.
 *
 * Reconnects after 4403/1001/1013 are graphql-ws's own (api.ts): it sends the subscription again
 * by itself, serialising its payload anew each time, and the payload's `variables` getter gives
 * it the latest cursor. This hook starts the subscription again (with a backoff) when it ends
 * with an error: SERVICE_UNAVAILABLE, 4429, a token that could not be fetched.
 */
export function useLiveUpdates({ ws }: Api, onEvent: (event: LiveEvent) => void, onExpired: () => void): LiveUpdates {
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const handlers = useRef({ onEvent, onExpired });
  handlers.current = { onEvent, onExpired };
  /** The cursor to resume from: the last event's, or the list's until an event comes. */
  const cursor = useRef<string | undefined>(undefined);
  const [start, setStart] = useState(0);

  const startFrom = useCallback((from: string) => {
    if (cursor.current !== undefined) return;
    cursor.current = from;
    setStart((n) => n + 1);
  }, []);

  useEffect(() => {
    if (start === 0) return;
    let stopped = false;
    let unsubscribe: (() => void) | undefined;
    let restartTimer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;

    const unlisten = [
      ws.on('connected', () => {
        if (!stopped) setStatus('live');
      }),
      ws.on('closed', () => {
        if (!stopped) setStatus('connecting');
      }),
    ];

    const restart = (closeCode?: number) => {
      unsubscribe?.();
      setStatus('off');
      clearTimeout(restartTimer);
      restartTimer = setTimeout(subscribe, restartDelayMs(failures++, closeCode));
    };
    /** Ended for good: the list is fetched again, and its cursor starts a new subscription. */
    const expire = () => {
      stopped = true;
      unsubscribe?.();
      setStatus('off');
      cursor.current = undefined;
      handlers.current.onExpired();
    };

    function subscribe() {
      if (stopped) return;
      const payload = {
        query: '',
        documentId: documentIdOf(LiveTaskEventsDocument),
        operationName: 'LiveTaskEvents',
        // Read whenever graphql-ws sends the subscription, first or after a reconnect: from where the tab is.
        get variables() {
          return { after: cursor.current };
        },
      };
      let ended = false;
      const off = ws.subscribe<LiveTaskEventsSubscription>(payload, {
        next(result: FormattedExecutionResult<LiveTaskEventsSubscription>) {
          if (stopped || ended) return;
          const event = result.data?.taskEvents;
          if (event) {
            failures = 0;
            cursor.current = event.cursor;
            handlers.current.onEvent(event);
            return;
          }
          // A refusal: one result with errors, then `complete`.
          ended = true;
          if (codes(result.errors).some((c) => typeof c === 'string' && UNRESUMABLE.has(c))) expire();
          else restart();
        },
        error(error: unknown) {
          if (stopped || ended) return;
          ended = true;
          if (codes(error).some((c) => typeof c === 'string' && UNRESUMABLE.has(c))) expire();
          // A fatal close (4429, a token that could not be had) or an error message (SERVICE_UNAVAILABLE).
          else restart((error as Partial<CloseEvent> | undefined)?.code);
        },
        complete() {
          // The server never ends this subscription by itself except with an error (handled above).
          if (!stopped && !ended) restart();
        },
      });
      unsubscribe = off;
    }
    subscribe();

    return () => {
      stopped = true;
      clearTimeout(restartTimer);
      for (const off of unlisten) off();
      unsubscribe?.();
    };
  }, [ws, start]);

  return { status, startFrom };
}
