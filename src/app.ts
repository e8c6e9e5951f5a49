import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { AUTH_BASE_PATH, prepareAuth, type Auth } from './auth/auth.ts';
import { publicHostname, type Config } from './config.ts';
import { withDeadline } from './deadline.ts';
import { connectionTag, tagUrl, terminateBackends } from './db/cancel.ts';
import { ConnectionMode, databaseProbe, poolProbe } from './db/connection.ts';
import { PoolShare } from './db/pool-share.ts';
import { PoolWaits } from './db/pool-waits.ts';
import { createPool, migrate, openDatabase } from './db/database.ts';
import { createOrm } from './db/orm.ts';
import { ServiceUnavailable } from './errors.ts';
import { createContextFactory, type Context } from './graphql/context.ts';
import { domainRefusal, formatError, withoutSuggestions } from './graphql/errors.ts';
import { compiledExecution } from './graphql/executor.ts';
import { operationRules } from './graphql/limits.ts';
import { apqCache, createDocumentPolicy, loadManifest } from './graphql/persisted-documents.ts';
import { logUnexpectedErrors, serviceUnavailableStatus, unauthenticatedStatus } from './graphql/plugins.ts';
import { apolloHandler } from './http/apollo-handler.ts';
import { authHandler } from './http/auth-handler.ts';
import { trackRequests } from './http/drain.ts';
import { connectionLimits, openFileLimit } from './http/capacity.ts';
import { idempotency } from './http/idempotency.ts';
import { createRateLimiter } from './http/rate-limit.ts';
import { sendJson } from './http/respond.ts';
import { createOverloadGuard } from './http/overload.ts';
import { createHttpServer, type Handler, type Routes } from './http/server.ts';
import { buildSchema } from './graphql/schema.ts';
import { createIdentity } from './identity.ts';
import { IdempotencyRepository, type IdempotencyTables } from './idempotency/idempotency.repository.ts';
import { startLive } from './live.ts';
import { createLogger, logScope, type Logger } from './logger.ts';
import { operationTelemetry, subscriptionTelemetry } from './graphql/telemetry.ts';
import { createMetrics, serveMetrics, type PoolName } from './telemetry/metrics.ts';
import { createTracing, tracedQueries } from './telemetry/tracing.ts';
import { TaskSchema, type TaskTables } from './tasks/task.entity.ts';
import { TaskRepository } from './tasks/task.repository.ts';
import type { UserTables } from './users/user.directory.ts';

export interface App {
  /** Base URL the server listens on, e.g. http://127.0.0.1:4000 */
  url: string;
  /** Better Auth in embedded mode; undefined when tokens come from elsewhere. */
  auth: Auth | undefined;
  logger: Logger;
  /**
   * Resolves once the app serves requests: database reachable, Better Auth's tables and the
   * migrations applied, the signing key created. Until then every route but /healthz answers 503.
   * Rejects only when `stop()` is called first.
   */
  ready: Promise<void>;
  /**
   * Registers work for the start of shutdown (e.g. closing WebSockets), run while requests drain;
   * it shares the SHUTDOWN_TIMEOUT_MS deadline with them.
   */
  onStop(hook: () => unknown): void;
  /**
   * Stops accepting, drains in-flight requests for at most SHUTDOWN_TIMEOUT_MS, then terminates
   * this instance's database backends (whatever still runs rolls back) and cuts the remaining
   * connections; then closes pools and stops an embedded PostgreSQL. Idempotent.
   */
  stop(): Promise<void>;
}

/**
 * Connections of Better Auth's pool: sign-up, sign-in and token requests. Better Auth holds a
 * connection (a transaction) while it hashes a password, CPU-bound: with 4, five concurrent
 * sign-ups on a busy machine waited out the pool-acquire timeout and were refused with 503.
 */
const AUTH_POOL_SIZE = 10;

export interface AppOptions {
  logger?: Logger;
  /** Called once, at the first failed start-up attempt (the database is not there yet). */
  onWaiting?: () => void;
}

/**
 * Database connections this process may open besides its two pools: the LISTEN connection, the
 * readiness probe, the migration lock, shutdown's cancel, a reconnect overlapping its predecessor.
 */
const OTHER_DATABASE_CONNECTIONS = 8;

/** Start-up retries: from 250 ms, doubling, at most this long apart. */
const MAX_RETRY_DELAY_MS = 2_000;
/** While the database stays down, one "still waiting" line this often (not one per attempt). */
const RETRY_LOG_INTERVAL_MS = 10_000;
/** Bound on each step of shutdown that talks to the database after the deadline. */
const CANCEL_TIMEOUT_MS = 2_000;
/** While shedding load, /readyz answers with a probe's result this recent instead of waiting for a new one. */
const RECENT_PROBE_MS = 5_000;
/** Seconds a client is told to wait (Retry-After) while the server is not ready. */
const NOT_READY_RETRY_AFTER_SECONDS = 2;

class Stopped extends Error {
  override name = 'Stopped';
}

/** What makes two failed attempts "the same failure" for logging: the error's code or message. */
function cause(err: unknown): string {
  const e = (err ?? {}) as { code?: unknown; message?: unknown };
  return String(e.code ?? e.message ?? err);
}

/**
 * The one place where the parts are wired together. Tests boot exactly this.
 *
 * The HTTP server listens at once (after starting an embedded PostgreSQL, whose problems are fatal
 * and reported as such); the database-backed parts come up in the background, retrying with
 * backoff while the database is unreachable, and every route but /healthz answers 503 until then.
 */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config);
  // Run in reverse order at shutdown, after the drain.
  const cleanups: Array<() => Promise<unknown>> = [];
  const stopHooks: Array<() => unknown> = [];
  const closeAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((err: unknown) => logger.error({ err }, 'error during shutdown'));
    }
  };

  // Checked before anything starts: a bad manifest stops the start with a ConfigError naming it.
  const schema = buildSchema();
  const persisted = config.graphql.persistedDocuments;
  const manifest = persisted.file
    ? loadManifest(persisted.file, schema, { limits: config.graphql.limits, introspection: config.graphql.introspection })
    : undefined;
  if (manifest) logger.info({ file: manifest.file, documents: manifest.size, only: persisted.only }, 'trusted documents loaded');
  if (persisted.onlyIgnored) {
    logger.warn(
      'PERSISTED_DOCUMENTS_ONLY=true does not apply with NODE_ENV=development (Apollo Sandbox sends text): operations it would refuse are only logged',
    );
  }
  const documents = createDocumentPolicy({ manifest, only: persisted.only, limits: config.graphql.limits, logger });

  const database = await openDatabase(config, logger);
  cleanups.push(() => database.stop());
  try {
    // Observability (docs/observability.md): metrics unless METRICS_PORT=0, traces only when an
    // OTLP exporter is configured. Either absent costs its call sites a null check.
    const metrics = config.metrics.port > 0 ? createMetrics() : undefined;
    const tracing = config.tracing ? createTracing(config.tracing, logger) : undefined;
    // Last at shutdown (cleanups run in reverse), so that the spans of the shutdown go out too.
    if (tracing) cleanups.push(() => withDeadline(tracing.shutdown(), CANCEL_TIMEOUT_MS, 'exporting the last spans'));
    if (metrics) {
      const served = await serveMetrics(metrics, config.host, config.metrics.port);
      cleanups.push(() => served.close());
      logger.info({ url: served.url }, 'serving Prometheus metrics');
    }
    const telemetry = metrics || tracing ? operationTelemetry(metrics, tracing) : undefined;
    const queries = tracing ? tracedQueries(tracing, () => logScope.getStore()?.span) : undefined;
    // How long work has queued for each pool's connections: a measure of saturation (overload shedding).
    const waits: Record<PoolName, PoolWaits> = { app: new PoolWaits(), auth: new PoolWaits() };
    const poolHooks = (name: PoolName) => ({
      queries,
      onPool: (pool: Parameters<PoolWaits['watch']>[0]) => {
        waits[name].watch(pool);
        metrics?.watchPool(name, pool);
      },
    });
    // Every connection of this instance carries the tag, so shutdown can find and cancel them.
    const tag = connectionTag();
    const dbUrl = tagUrl(database.url, tag);
    // What needs a session (migrations and their lock, LISTEN, terminating backends at shutdown)
    // goes to DATABASE_URL_UNPOOLED when DATABASE_URL is a transaction pooler.
    const sessionUrl = config.databaseUrlUnpooled ? tagUrl(config.databaseUrlUnpooled, tag) : dbUrl;
    const poolMode = new ConnectionMode({ preparedStatements: config.db.preparedStatements, variable: 'DATABASE_URL', logger });
    const sessionMode = config.databaseUrlUnpooled
      ? new ConnectionMode({ preparedStatements: config.db.preparedStatements, variable: 'DATABASE_URL_UNPOOLED', logger })
      : poolMode;
    // After a forced cancel the connections are dead: closing them should take no time at all.
    let closeTimeoutMs = CANCEL_TIMEOUT_MS;
    // The one pool of the application's data: MikroORM's, reached through its typed Kysely. Nothing
    // connects yet (MikroORM.init does not), so this works with the database down.
    const orm = await createOrm(dbUrl, [TaskSchema], config.db.poolSize, config.db, poolMode, logger, poolHooks('app'));
    cleanups.push(() => withDeadline(orm.close(true), closeTimeoutMs, 'closing the ORM'));
    const db = orm.em.fork().getKysely<TaskTables & UserTables & IdempotencyTables>();
    // Better Auth's own small pool (see createPool); it connects lazily, so costs nothing unless embedded.
    const authPool = createPool(dbUrl, AUTH_POOL_SIZE, config.db, poolMode, logger, poolHooks('auth'));
    cleanups.push(() => withDeadline(authPool.end(), closeTimeoutMs, 'closing the auth pool'));
    // One user's statements hold at most DB_POOL_MAX_PER_USER connections; their others wait here.
    const share = new PoolShare({ perUser: config.db.maxPerUser, maxWaitMs: config.db.acquireTimeoutMs });
    const { auth, verifier, users, loadKeys } = await createIdentity(config, authPool, db, share, logger);
    // Live updates: the task feed and the LISTEN connection (connected with the rest of start-up).
    const live = startLive(config, sessionUrl, db, users, logger);
    cleanups.push(() => live.stop());

    let isReady = false;
    const notReadyError = new ServiceUnavailable(
      'The server is starting and cannot reach its database yet; try again shortly.',
      NOT_READY_RETRY_AFTER_SECONDS,
    );
    const notReady = domainRefusal(notReadyError);
    const unavailable = (res: Parameters<Handler>[1], body: unknown = notReady.body) => sendJson(res, notReady.status, body, notReady.headers);

    const handleAuth = auth ? authHandler(auth, config, logger, poolProbe(authPool)) : undefined;
    // A connection of its own, bounded: a pool busy with slow queries cannot make /readyz lie or hang.
    const databaseUp = databaseProbe(dbUrl);
    let saidStarting = false;
    const ready = async () => {
      if (!isReady) {
        // Probes arrive every few seconds while migrations and keys wait for the database: say it once.
        if (!saidStarting) logger.info('not ready yet: starting; /readyz answers 503 until the database is reachable and migrated');
        saidStarting = true;
        return false;
      }
      // While the instance sheds load, a new connection's round trips each wait for a late loop: the
      // probe could take longer than an orchestrator waits, and a busy instance would be taken for
      // a dead one. Then the last probe's answer stands, if recent, and a new one runs behind it.
      if (overload?.busy() && lastProbe && Date.now() - lastProbe.at < RECENT_PROBE_MS) {
        probe().catch(() => {});
        return lastProbe.up;
      }
      return probe();
    };
    let lastProbe: { at: number; up: boolean } | undefined;
    const probe = async () => {
      const up = await databaseUp();
      lastProbe = { at: Date.now(), up };
      if (!up) logger.warn('readiness check failed: database unreachable');
      return up;
    };
    // Every client connection holds a file descriptor: the cap is what the open-file limit leaves
    // once the database connections and the process's own files are kept aside.
    const limits = connectionLimits(config.httpMaxConnections, openFileLimit(), config.db.poolSize + AUTH_POOL_SIZE + OTHER_DATABASE_CONNECTIONS);
    logger.info(limits, `connections: at most ${limits.maxConnections} (WebSockets up to ${limits.maxWebSockets}), from the ${limits.source}`);
    if (limits.openFiles !== undefined && limits.maxConnections > limits.openFiles - limits.reservedFiles) {
      logger.warn(limits, 'HTTP_MAX_CONNECTIONS leaves too few open files for the database and logs: raise the open-file limit or lower it');
    }
    // Overload shedding: /graphql is saturated when the event loop runs late or the application's
    // database work queues (connections of its pool, page reads and task writes waiting for their
    // turn); /api/auth when the loop runs late or Better Auth's pool queues. Page reads and writes
    // are counted once the task repository exists.
    let pageWaitMs = () => 0;
    const { maxEventLoopDelayMs, maxDbWaitMs } = config.overload;
    const overload =
      maxEventLoopDelayMs > 0 || maxDbWaitMs > 0
        ? createOverloadGuard({
            maxEventLoopDelayMs,
            maxDbWaitMs,
            dbWaitMs: { '/graphql': () => Math.max(waits.app.oldestMs(), pageWaitMs()), '/api/auth': () => waits.auth.oldestMs() },
          })
        : undefined;
    if (overload) {
      cleanups.push(() => {
        overload.stop();
        return Promise.resolve();
      });
    }
    // Filled in once Apollo has started.
    let handleGraphQL: Routes['graphql'] = () => Promise.reject(new Error('GraphQL is not started'));
    const httpServer = createHttpServer({
      graphql: async (req, res, search) => {
        if (isReady) await handleGraphQL(req, res, search);
        else unavailable(res);
      },
      auth: handleAuth
        ? async (req, res) => {
            if (isReady) await handleAuth(req, res);
            else unavailable(res, { code: notReadyError.code, message: notReadyError.message });
          }
        : undefined,
      authBasePath: AUTH_BASE_PATH,
      trustedOrigins: config.auth.trustedOrigins,
      ready,
      maxConnections: limits.maxConnections,
      overload,
      logger,
      metrics,
      tracing,
    });
    const requests = trackRequests(httpServer);

    const apollo = new ApolloServer<Context>({
      // The schema, executed by graphql-jit (src/graphql/executor.ts).
      gateway: compiledExecution(schema, telemetry?.aroundExecution),
      formatError: config.nodeEnv === 'production' ? withoutSuggestions(formatError) : formatError,
      // Apollo's own messages (rare: warnings, a failing plugin) as JSON lines, not console text.
      logger: logger.child({ component: 'apollo' }),
      // Compact JSON: Apollo's default pretty-prints every response (more CPU, more bytes).
      stringifyResult: (result) => JSON.stringify(result),
      validationRules: operationRules(config.graphql.limits),
      // The token limit is checked while parsing: a huge document is never fully parsed.
      parseOptions: { maxTokens: config.graphql.limits.maxTokens },
      // A browser cannot send Authorization cross-site without a preflight, so a request carrying
      // it is no CSRF risk; urql's default GET queries carry it. A bare GET is still refused.
      csrfPrevention: { requestHeaders: ['x-apollo-operation-name', 'apollo-require-preflight', 'authorization'] },
      hideSchemaDetailsFromClientErrors: config.nodeEnv === 'production',
      introspection: config.graphql.introspection,
      // Automatic persisted queries: a bandwidth feature, never a control (any client can register
      // any text), so off when only trusted documents run; otherwise in a store of bounded size.
      persistedQueries: documents.only ? false : { cache: apqCache() },
      // index.ts owns the signals; stop() below drains the HTTP server itself, with a deadline
      // (Apollo's drain plugin has none that ends in a rollback).
      stopOnTerminationSignals: false,
      includeStacktraceInErrorResponses: config.nodeEnv === 'development',
      plugins: [
        // Responses carry no cache hints; the default plugin would instrument every field for them.
        ApolloServerPluginCacheControlDisabled(),
        logUnexpectedErrors,
        unauthenticatedStatus,
        serviceUnavailableStatus,
        ...(telemetry ? [telemetry.plugin] : []),
        config.graphql.introspection
          ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
          : ApolloServerPluginLandingPageDisabled(),
      ],
    });
    const rateLimiter = createRateLimiter(config, logger);
    cleanups.push(() => rateLimiter.close());
    await apollo.start();
    cleanups.push(() => apollo.stop());
    // A page waits for its turn no longer than any query waits for a pooled connection.
    const tasks = new TaskRepository(db, {
      concurrentPages: config.db.pageConcurrency,
      concurrentSearches: config.db.searchConcurrency,
      maxWaitMs: config.db.acquireTimeoutMs,
      quotas: config.quotas,
      share,
      onPageQuery: metrics ? (pages) => metrics.pageQuery(pages) : undefined,
      concurrentWrites: config.db.writeConcurrency,
      onWriteStatement: metrics ? (operation, writes) => metrics.writeStatement(operation, writes) : undefined,
    });
    pageWaitMs = () => Math.max(tasks.pageWaitMs(), tasks.writeWaitMs());
    metrics?.watchWrites(() => tasks.writesWaiting());
    metrics?.watchPages(() => tasks.pagesWaiting());
    const contextDeps = {
      tasks,
      verifier,
      users,
      logger,
      changes: live.changes,
      rateLimit: rateLimiter.consume,
      tokens: rateLimiter.tokens,
      spendDocument: rateLimiter.spendDocument,
    };
    // Subscriptions over WebSocket on /graphql, same pipeline as HTTP. Until the listener is up
    // (start-up, an outage) new sockets are closed with 1013 "try again later". live.stop() (a
    // cleanup, after the HTTP drain) closes them with 1001.
    const sockets = live.serve(
      httpServer,
      schema,
      contextDeps,
      limits.maxWebSockets,
      documents,
      telemetry ? subscriptionTelemetry(metrics, tracing) : undefined,
      overload
        ? () => {
            // A new socket authenticates and looks its user up in the application's database: as /graphql.
            const reason = overload.saturated('/graphql');
            if (reason) metrics?.shed('websocket', reason);
            return reason !== undefined;
          }
        : undefined,
    );
    metrics?.watchSockets(() => sockets.size);

    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.port, config.host, resolve);
    });
    const { port } = httpServer.address() as AddressInfo;
    const url = `http://${publicHostname(config.host)}:${port}`;

    // Migrations need a session: with DATABASE_URL_UNPOOLED they run there, on an ORM and a pool of
    // their own for the time they take; else on the application's pools.
    const runMigrations = async () => {
      if (sessionMode === poolMode) {
        await migrate(dbUrl, orm, auth ? () => prepareAuth(auth) : undefined);
        return;
      }
      const migrationOrm = await createOrm(sessionUrl, [TaskSchema], 2, config.db, sessionMode, logger);
      const migrationPool = createPool(sessionUrl, 2, config.db, sessionMode, logger);
      try {
        await migrate(sessionUrl, migrationOrm, auth ? () => prepareAuth(auth, migrationPool) : undefined);
      } finally {
        await withDeadline(migrationOrm.close(true), CANCEL_TIMEOUT_MS, 'closing the migration ORM').catch(() => {});
        await withDeadline(migrationPool.end(), CANCEL_TIMEOUT_MS, 'closing the migration pool').catch(() => {});
      }
    };

    const abort = new AbortController();
    const start = async () => {
      const since = Date.now();
      let attempts = 0;
      let lastCause: string | undefined;
      let lastLogged = 0;
      for (;;) {
        if (abort.signal.aborted) throw new Stopped();
        try {
          await poolMode.detect(dbUrl, config.db);
          if (sessionMode !== poolMode) await sessionMode.detect(sessionUrl, config.db);
          await runMigrations();
          await loadKeys();
          await live.connect();
          break;
        } catch (err) {
          // Shutting down closed the pool under this attempt: nothing to report.
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may have aborted while we awaited
          if (abort.signal.aborted) throw new Stopped();
          attempts++;
          if (attempts === 1) options.onWaiting?.();
          // One line per distinct failure, then one "still failing" line per interval: an hour
          // without a database writes a few hundred lines, not one per retry.
          const now = Date.now();
          if (cause(err) !== lastCause || now - lastLogged >= RETRY_LOG_INTERVAL_MS) {
            logger.warn({ err, attempts, waitingMs: now - since }, 'cannot start yet: database unavailable; retrying');
            lastCause = cause(err);
            lastLogged = now;
          }
          const delay = Math.min(MAX_RETRY_DELAY_MS, 250 * 2 ** Math.min(attempts - 1, 10));
          await sleep(delay * (0.8 + Math.random() * 0.4), undefined, { signal: abort.signal }).catch(() => {});
        }
      }
      const contexts = createContextFactory(contextDeps);
      handleGraphQL = apolloHandler(apollo, {
        context: contexts.context,
        maxBodyBytes: 1024 * 1024,
        contextFailed: telemetry?.contextFailed,
        documentRefused: telemetry?.documentRefused,
        // Keys live in the application's database, through the one pool; the viewer is the one the
        // context authenticates and admits (once per request).
        idempotent: idempotency({
          store: new IdempotencyRepository(db),
          admit: contexts.admit,
          logger,
          maxTokens: config.graphql.limits.maxTokens,
          maxResponseBytes: config.idempotency.maxResponseBytes,
          maxKeysPerUser: config.idempotency.maxKeysPerUser,
        }),
        // Before idempotency: a mutation sent by id is told apart by its listed text.
        documents,
      });
      isReady = true;
      if (attempts > 0) logger.info({ attempts, waitingMs: Date.now() - since }, 'database reachable: ready');
    };
    const readyPromise = start();
    readyPromise.catch(() => {});

    const stop = async () => {
      abort.abort();
      const deadline = Date.now() + config.shutdownTimeoutMs;
      const hooks = Promise.allSettled(stopHooks.map((hook) => Promise.resolve().then(hook))).then((results) => {
        for (const r of results) if (r.status === 'rejected') logger.error({ err: r.reason }, 'error in a stop hook');
      });
      const drained = await requests.drain(deadline);
      if (!drained) {
        // Past the deadline: whatever still runs is cancelled and rolls back, so that nothing a
        // client never heard about commits later (a write waiting on a lock, say).
        logger.warn(
          { inFlight: requests.inFlight(), shutdownTimeoutMs: config.shutdownTimeoutMs },
          'shutdown deadline reached: cancelling requests still in flight',
        );
        const terminated = await terminateBackends(config.databaseUrlUnpooled ?? database.url, tag, CANCEL_TIMEOUT_MS).catch((err: unknown) => {
          logger.warn({ err }, 'could not cancel database work (database unreachable?)');
          return 0;
        });
        if (terminated > 0) logger.info({ terminated }, 'database connections terminated; their transactions rolled back');
        requests.cutAll();
        closeTimeoutMs = 500;
      }
      await withDeadline(hooks, Math.max(0, deadline - Date.now()) + CANCEL_TIMEOUT_MS, 'stop hooks').catch((err: unknown) =>
        logger.warn({ err }, 'stop hooks did not finish'),
      );
      await closeAll();
    };

    let stopping: Promise<void> | undefined;
    return {
      url,
      auth,
      logger,
      ready: readyPromise,
      onStop: (hook) => void stopHooks.push(hook),
      stop: () => (stopping ??= stop()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
