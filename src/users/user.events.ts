import type { PgListener } from '../db/listener.ts';
import type { Logger } from '../logger.ts';

/** The PostgreSQL channel the "user" and "session" triggers notify on (notify_changes migration). */
export const USER_EVENTS_CHANNEL = 'user_events';

/**
 * UPDATED: the user row changed (name, email). DELETED: the account is gone. SIGNED_OUT: the
 * user's last session was deleted (signed out everywhere): no new token can be had.
 */
export interface UserEvent {
  kind: 'UPDATED' | 'DELETED' | 'SIGNED_OUT';
  userId: string;
}

/** Calls `handler` for every user change committed by any instance (or by Better Auth elsewhere). */
export function onUserEvents(listener: PgListener, logger: Logger, handler: (event: UserEvent) => void): () => void {
  return listener.on(USER_EVENTS_CHANNEL, (payload) => {
    let event: Partial<UserEvent> | undefined;
    try {
      event = JSON.parse(payload) as Partial<UserEvent>;
    } catch {
      event = undefined;
    }
    const kind = (['UPDATED', 'DELETED', 'SIGNED_OUT'] as const).find((k) => k === event?.kind);
    if (!event || typeof event.userId !== 'string' || !kind) {
      logger.warn({ payload }, 'ignored a malformed user notification');
      return;
    }
    handler({ kind, userId: event.userId });
  });
}
