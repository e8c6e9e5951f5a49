import type http from 'node:http';
import type { GraphQLSchema } from 'graphql';
import { CompiledQuery, type Kysely } from 'kysely';
import type { Config } from './config.ts';
import { PgListener } from './db/listener.ts';
import { ServiceUnavailable } from './errors.ts';
import type { ContextDeps } from './graphql/context.ts';
import type { SocketTelemetry } from './graphql/telemetry.ts';
import { operationRules } from './graphql/limits.ts';
import type { DocumentPolicy } from './graphql/persisted-documents.ts';
import { CloseCode, createLiveSockets, type LiveSockets } from './http/websocket.ts';
import type { Logger } from './logger.ts';
import { TaskChangeLog } from './tasks/task.change-log.ts';
import { TaskFeed } from './tasks/task.feed.ts';
import { onUserEvents, USER_EVENTS_CHANNEL } from './users/user.events.ts';
import type { UserDirectory } from './users/user.directory.ts';

/**
 * Wiring of live updates (app.ts's helper, at its level): the task feed behind subscriptions (it
 * reads the task change log), the instance's one LISTEN connection with the user events that keep
 * every instance's user cache and open sockets honest, and the WebSocket endpoint.
 */
export interface Live {
  /** Task changes for TaskService.events(), through the context. */
  changes: TaskFeed;
  /** Connects the LISTEN connection and starts pruning the change log (start-up, after migrations; rejects while the database is unreachable). */
  connect(): Promise<void>;
  /**
   * Starts serving WebSockets on the HTTP server (before it listens), at most `maxSockets` at once,
   * with HTTP's trusted documents; `telemetry` records subscriptions and deliveries; no new socket
   * while `overloaded()` says the server is saturated.
   */
  serve(
    httpServer: http.Server,
    schema: GraphQLSchema,
    context: ContextDeps,
    maxSockets: number,
    documents: DocumentPolicy,
    telemetry?: SocketTelemetry,
    overloaded?: () => boolean,
  ): LiveSockets;
  stop(): Promise<void>;
}

/** Sign-out is told a moment before a deletion (Better Auth deletes sessions first): say the right reason. */
const SIGN_OUT_GRACE_MS = 250;

/** Seconds a subscriber is told to wait while this instance's LISTEN connection is deaf (the check's period). */
const DEAF_RETRY_AFTER_SECONDS = 30;

/**
 * `databaseUrl`: the session URL the LISTEN connection uses (DATABASE_URL_UNPOOLED, else
 * DATABASE_URL). `db`: the application's pool, which the self-check notifies through as the
 * triggers do.
 */
export function startLive(config: Config, databaseUrl: string, db: Pick<Kysely<object>, 'executeQuery'>, users: UserDirectory, logger: Logger): Live {
  const log = logger.child({ component: 'live' });
  const listener = new PgListener(databaseUrl, {
    channels: [USER_EVENTS_CHANNEL],
    logger: log,
    connectTimeoutMs: config.db.connectTimeoutMs,
    sendCheck: async (channel, payload) => {
      await db.executeQuery(CompiledQuery.raw('select pg_notify($1, $2)', [channel, payload]));
    },
    recheckMs: DEAF_RETRY_AFTER_SECONDS * 1000,
    deafHint: config.databaseUrlUnpooled
      ? 'DATABASE_URL_UNPOOLED must be a direct connection to PostgreSQL (no pooler). Until it is, subscriptions are refused with SERVICE_UNAVAILABLE.'
      : 'Set DATABASE_URL_UNPOOLED to a direct connection to PostgreSQL (docs/deployment.md). Until then, subscriptions are refused with SERVICE_UNAVAILABLE.',
  });
  const deaf = () =>
    new ServiceUnavailable(
      'Live updates are unavailable on this server: its database connection does not deliver notifications. Try again later.',
      DEAF_RETRY_AFTER_SECONDS,
    );
  const changes = new TaskFeed({
    log: new TaskChangeLog(db),
    logger: log,
    pollIntervalMs: config.taskEvents.pollIntervalMs,
    retentionSeconds: config.taskEvents.retentionSeconds,
    // While user events cannot be heard (a deleted user's socket would stay open), no new subscription.
    unavailable: () => {
      if (listener.up) return undefined;
      return listener.state === 'deaf' ? deaf() : new ServiceUnavailable('Live updates are unavailable right now; try again shortly.', 1);
    },
  });
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
    // Whatever was notified while deaf is lost: cached users may be stale. Sockets are closed (1013)
    // and subscriptions ended, so that clients come back (resuming with their cursors) once it is up.
    users.forgetAll();
    if (up) return;
    changes.interrupt();
    sockets?.closeAll(CloseCode.TRY_AGAIN_LATER, 'try again later');
  });
  return {
    changes,
    async connect() {
      await listener.start();
      changes.startPruning();
    },
    serve(httpServer, schema, context, maxSockets, documents, telemetry, overloaded) {
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
        // Deaf is no reason to reconnect: the socket is taken, and its subscriptions are refused
        // with SERVICE_UNAVAILABLE saying why (a 1013 loop would say nothing).
        live: () => listener.state !== 'down',
        overloaded,
        logger: log,
        telemetry,
      });
      return sockets;
    },
    async stop() {
      for (const timer of signOuts.values()) clearTimeout(timer);
      await sockets?.stop();
      await changes.stop();
      await listener.stop();
    },
  };
}
