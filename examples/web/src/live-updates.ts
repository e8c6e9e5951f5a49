import { useEffect, useRef, useState } from 'react';
import { CloseCode, isTokenChange, type Api } from './api.ts';
import { LiveTaskEventsDocument } from './gql/graphql.ts';

export type LiveStatus = 'connecting' | 'live' | 'off';

/** Waits before subscribing again after the subscription ended with an error. */
function restartDelayMs(failures: number, closeCode: number | undefined): number {
  // Too many sockets for this user (other tabs): one may close; no point asking often.
  if (closeCode === CloseCode.TOO_MANY) return 30_000 * (0.5 + Math.random() / 2);
  return Math.min(30_000, 1000 * 2 ** failures) * (0.5 + Math.random() / 2);
}

/**
 * Keeps the task list current while another tab or device changes it: `onChange` runs for every
 * task event (the list is refetched, rather than patched from the event: simpler, and always
 * right), and whenever events may have been missed: after every reconnect, and after the
 * subscription failed and was started again (SERVICE_UNAVAILABLE when the server could not hear
 * the database or fell behind, 4429, a token that could not be fetched).
 *
 * Reconnects after 4403/1001/1013 are graphql-ws's own (api.ts); this hook sees only what ends
 * the subscription, and starts it again with a backoff, for as long as the board is shown.
 */
export function useLiveUpdates({ client, ws }: Api, onChange: () => void): LiveStatus {
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const changed = useRef(onChange);
  changed.current = onChange;

  useEffect(() => {
    let stopped = false;
    let subscription: { unsubscribe(): void } | undefined;
    let restartTimer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    let connections = 0;

    const unlisten = [
      ws.on('connected', () => {
        if (stopped) return;
        setStatus('live');
        // A reconnect: events may have been missed while the socket was down.
        if (++connections > 1) changed.current();
      }),
      ws.on('closed', (event) => {
        // Changing tokens takes milliseconds: no need to tell the person.
        if (!stopped && !isTokenChange(event)) setStatus('connecting');
      }),
    ];

    const start = (resync: boolean) => {
      subscription?.unsubscribe();
      subscription = client.subscription(LiveTaskEventsDocument, {}).subscribe((result) => {
        if (stopped) return;
        if (result.data) {
          failures = 0;
          changed.current();
          return;
        }
        if (!result.error) return;
        // The subscription has ended. urql keeps its source open: end it before starting anew.
        const closeCode = (result.error.networkError as unknown as Partial<CloseEvent> | undefined)?.code;
        setStatus('off');
        restartTimer = setTimeout(() => start(true), restartDelayMs(failures++, closeCode));
      });
      // Subscribed again after a failure: what changed in between was not sent.
      if (resync) changed.current();
    };
    start(false);

    return () => {
      stopped = true;
      clearTimeout(restartTimer);
      for (const off of unlisten) off();
      subscription?.unsubscribe();
    };
  }, [client, ws]);

  return status;
}
