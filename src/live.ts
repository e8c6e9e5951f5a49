import type http from 'node:http';
import type { GraphQLSchema } from 'graphql';
import type { Config } from './config.ts';
import { PgListener } from './db/listener.ts';
import type { ContextDeps } from './graphql/context.ts';
import { operationRules } from './graphql/limits.ts';
import type { DocumentPolicy } from './graphql/persisted-documents.ts';
import { CloseCode, createLiveSockets, type LiveSockets } from './http/websocket.ts';
import type { Logger } from './logger.ts';
import { TASK_EVENTS_CHANNEL, TaskEventBus } from './tasks/task.events.ts';
import { onUserEvents, USER_EVENTS_CHANNEL } from './users/user.events.ts';
import type { UserDirectory } from './users/user.directory.ts';

/**
 * Wiring of live updates (app.ts's helper, at its level): the instance's one LISTEN connection,
 * the task event bus behind subscriptions, the user events that keep every instance's user cache
 * and open sockets honest, and the WebSocket endpoint.
 */
export interface Live {
  /** Task changes for TaskService.events(), through the context. */
  changes: TaskEventBus;
  /** Connects the LISTEN connection (start-up; rejects while the database is unreachable). */
  connect(): Promise<void>;
  /**
   * Starts serving WebSockets on the HTTP server (before it listens), at most `maxSockets` at once,
   * with HTTP's trusted documents.
   */
  serve(httpServer: http.Server, schema: GraphQLSchema, context: ContextDeps, maxSockets: number, documents: DocumentPolicy): LiveSockets;
  stop(): Promise<void>;
}

/** Sign-out is told a moment before a deletion (Better Auth deletes sessions first): say the right reason. */
const SIGN_OUT_GRACE_MS = 250;

export function startLive(config: Config, databaseUrl: string, users: UserDirectory, logger: Logger): Live {
  const log = logger.child({ component: 'live' });
  const listener = new PgListener(databaseUrl, {
    channels: [TASK_EVENTS_CHANNEL, USER_EVENTS_CHANNEL],
    logger: log,
    connectTimeoutMs: config.db.connectTimeoutMs,
  });
  const changes = new TaskEventBus(listener, log);
  let sockets: LiveSockets | undefined;
  const signOuts = new Map<string, NodeJS.Timeout>();

  onUserEvents(listener, log, ({ kind, userId }) => {
    users.forget(userId);
    if (kind === 'DELETED') {
      clearTimeout(signOuts.get(userId));
      signOuts.delete(userId);
      sockets?.closeUser(userId, CloseCode.FORBIDDEN, 'user deleted');
    } else if (kind === 'SIGNED_OUT' && !signOuts.has(userId)) {
      const timer = setTimeout(() => {
        signOuts.delete(userId);
        sockets?.closeUser(userId, CloseCode.FORBIDDEN, 'signed out');
      }, SIGN_OUT_GRACE_MS);
      timer.unref();
      signOuts.set(userId, timer);
    }
  });
  listener.onState((up) => {
    // Whatever was notified while deaf is lost: cached users may be stale, subscribers missed events.
    users.forgetAll();
    if (!up) sockets?.closeAll(CloseCode.TRY_AGAIN_LATER, 'try again later');
  });
  return {
    changes,
    connect: () => listener.start(),
    serve(httpServer, schema, context, maxSockets, documents) {
      sockets = createLiveSockets({
        httpServer,
        path: '/graphql',
        hideSuggestions: config.nodeEnv === 'production',
        schema,
        validationRules: operationRules(config.graphql.limits),
        maxTokens: config.graphql.limits.maxTokens,
        documents,
        context,
        trustedOrigins: config.auth.trustedOrigins,
        maxConnectionsPerUser: config.ws.maxConnectionsPerUser,
        maxSockets,
        maxSubscriptionsPerUser: config.ws.maxSubscriptionsPerUser,
        clockSkewSeconds: config.auth.clockSkewSeconds,
        maxTokenAgeSeconds: config.auth.maxTokenAgeSeconds,
        live: () => listener.up,
        logger: log,
      });
      return sockets;
    },
    async stop() {
      for (const timer of signOuts.values()) clearTimeout(timer);
      await sockets?.stop();
      await listener.stop();
    },
  };
}
