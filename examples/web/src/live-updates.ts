import { useEffect, useState } from 'react';
import { gql, type TypedDocumentNode } from 'urql';
import type { Api } from './api.ts';
import { LiveUpdatesSupportDocument, TaskItemFragmentDoc, type TaskItemFragment } from './gql/graphql.ts';
import type { TokenSource } from './tokens.ts';

export type TaskEventKind = 'CREATED' | 'UPDATED' | 'DELETED';
export interface TaskEventsSubscription {
  taskEvents: { kind: TaskEventKind; taskId: string; task: TaskItemFragment | null };
}

/**
 * Written by hand, not in operations.graphql: codegen checks documents against schema/, and the
 * schema has no Subscription type yet. When it does, move this there and use the generated type.
 */
export const TaskEventsDocument: TypedDocumentNode<TaskEventsSubscription, Record<string, never>> = gql`
  subscription TaskEvents {
    taskEvents {
      kind
      taskId
      task {
        ...TaskItem
      }
    }
  }
  ${TaskItemFragmentDoc}
`;

/** graphql-ws gives up on 4401 (token refused at connect): the app refreshes and subscribes again. */
const CLOSE_UNAUTHORIZED = 4401;
const MAX_RESTARTS = 3;

export type LiveStatus = 'connecting' | 'live' | 'off';

/**
 * Keeps the task list current while another tab or device changes it. Starts only when the
 * server's schema has `Subscription.taskEvents` (or when introspection is off and it cannot
 * tell); without it the app works as before, refreshing after its own changes. `onEvent` runs
 * for every event and after every reconnect (events may have been missed meanwhile).
 */
export function useLiveUpdates({ client, ws }: Api, tokens: TokenSource, onEvent: () => void): LiveStatus {
  const [status, setStatus] = useState<LiveStatus>('connecting');

  useEffect(() => {
    let stopped = false;
    let unsubscribe: (() => void) | undefined;
    let restarts = 0;
    let connections = 0;
    const unlisten = ws.on('connected', () => {
      setStatus('live');
      // A reconnect: events may have been missed while the socket was down.
      if (++connections > 1) onEvent();
    });

    const start = () => {
      const subscription = client.subscription(TaskEventsDocument, {}).subscribe((result) => {
        if (stopped) return;
        if (result.data) {
          restarts = 0;
          setStatus('live');
          onEvent();
          return;
        }
        if (!result.error) return;
        const closeCode = (result.error.networkError as unknown as CloseEvent | undefined)?.code;
        if (closeCode === CLOSE_UNAUTHORIZED && restarts < MAX_RESTARTS) {
          // The token was refused when the socket opened: get a new one, subscribe again and
          // refetch what may have changed in between.
          restarts += 1;
          void tokens.refresh().then(() => {
            if (stopped) return;
            onEvent();
            start();
          }, () => setStatus('off'));
          return;
        }
        // No subscriptions on this server, or the socket gave up: the list still works.
        setStatus('off');
      });
      unsubscribe = () => subscription.unsubscribe();
    };

    void client
      .query(LiveUpdatesSupportDocument, {}, { requestPolicy: 'network-only' })
      .toPromise()
      .then((result) => {
        if (stopped) return;
        const fields = result.data?.__type?.fields;
        const supported = result.data ? Boolean(fields?.some((f) => f.name === 'taskEvents')) : true;
        if (supported) start();
        else setStatus('off');
      });

    return () => {
      stopped = true;
      unlisten();
      unsubscribe?.();
    };
  }, [client, ws, tokens, onEvent]);

  return status;
}
