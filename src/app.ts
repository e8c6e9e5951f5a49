import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { AUTH_BASE_PATH, authHandler, prepareAuth, type Auth } from './auth/auth.ts';
import { createIdentity } from './auth/identity.ts';
import { publicHostname, type Config } from './config.ts';
import { databaseProbe, poolProbe } from './db/connection.ts';
import { createPool, migrate, openDatabase } from './db/database.ts';
import { createOrm } from './db/orm.ts';
import { createContextFactory, type Context } from './graphql/context.ts';
import { formatError, withoutSuggestions } from './graphql/errors.ts';
import { operationRules } from './graphql/limits.ts';
import { logUnexpectedErrors, serviceUnavailableStatus, unauthenticatedStatus } from './graphql/plugins.ts';
import { apolloHandler } from './http/apollo-handler.ts';
import { createRateLimiter } from './http/rate-limit.ts';
import { createHttpServer, type Routes } from './http/server.ts';
import { buildSchema } from './graphql/schema.ts';
import { createLogger, type Logger } from './logger.ts';
import { TaskSchema, type TaskTables } from './tasks/task.entity.ts';
import type { UserTables } from './users/user.directory.ts';

export interface App {
  /** Base URL the server listens on, e.g. http://127.0.0.1:4000 */
  url: string;
  /** Better Auth in embedded mode; undefined when tokens come from elsewhere. */
  auth: Auth | undefined;
  logger: Logger;
  /** Drains in-flight requests, then closes pools and stops an embedded PostgreSQL. */
  stop(): Promise<void>;
}

/** Connections of Better Auth's pool: sign-up, sign-in and token requests, CPU-bound on password hashing. */
const AUTH_POOL_SIZE = 4;

export interface AppOptions {
  logger?: Logger;
}

/** The one place where the parts are wired together. Tests boot exactly this. */
export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config);
  const cleanups: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((err: unknown) => logger.error({ err }, 'error during shutdown'));
    }
  };

  try {
    const database = await openDatabase(config, logger);
    cleanups.push(() => database.stop());
    // The one pool of the application's data: MikroORM's, reached through its typed Kysely.
    const orm = await createOrm(database.url, [TaskSchema], config.db.poolSize, config.db);
    cleanups.push(() => orm.close());
    const db = orm.em.fork().getKysely<TaskTables & UserTables>();
    // Better Auth's own small pool (see createPool); it connects lazily, so costs nothing unless embedded.
    const authPool = createPool(database.url, AUTH_POOL_SIZE, config.db, logger);
    cleanups.push(() => authPool.end());
    const { auth, verifier, users } = await createIdentity(config, authPool, db, logger);
    await migrate(database.url, orm, auth ? () => prepareAuth(auth) : undefined);
    // Keys in hand before the first request: a cold cache is what refused valid tokens at start.
    await verifier.warmUp();

    const handleAuth = auth ? authHandler(auth, config, logger, poolProbe(authPool)) : undefined;
    // A connection of its own, bounded: a pool busy with slow queries cannot make /readyz lie or hang.
    const databaseUp = databaseProbe(database.url);
    const ready = async () => {
      const up = await databaseUp();
      if (!up) logger.warn('readiness check failed: database unreachable');
      return up;
    };
    // Filled in once Apollo has started; the server does not listen before that.
    let handleGraphQL: Routes['graphql'] = () => Promise.reject(new Error('GraphQL is not started'));
    const httpServer = createHttpServer({
      graphql: (req, res, search) => handleGraphQL(req, res, search),
      auth: handleAuth,
      authBasePath: AUTH_BASE_PATH,
      trustedOrigins: config.auth.trustedOrigins,
      ready,
      logger,
    });

    const apollo = new ApolloServer<Context>({
      schema: buildSchema(),
      formatError: config.nodeEnv === 'production' ? withoutSuggestions(formatError) : formatError,
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
      // index.ts owns SIGTERM/SIGINT: drain, then close pools, then stop PostgreSQL, in that order.
      stopOnTerminationSignals: false,
      includeStacktraceInErrorResponses: config.nodeEnv === 'development',
      plugins: [
        ApolloServerPluginDrainHttpServer({ httpServer }),
        // Responses carry no cache hints; the default plugin would instrument every field for them.
        ApolloServerPluginCacheControlDisabled(),
        logUnexpectedErrors,
        unauthenticatedStatus,
        serviceUnavailableStatus,
        config.graphql.introspection
          ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
          : ApolloServerPluginLandingPageDisabled(),
      ],
    });
    const rateLimiter = createRateLimiter(config, logger);
    cleanups.push(() => rateLimiter.close());
    await apollo.start();
    cleanups.push(() => apollo.stop());
    handleGraphQL = apolloHandler(apollo, {
      context: createContextFactory({ db, verifier, users, logger, rateLimit: rateLimiter.consume }),
      maxBodyBytes: 1024 * 1024,
    });

    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.port, config.host, resolve);
    });
    const { port } = httpServer.address() as AddressInfo;
    const url = `http://${publicHostname(config.host)}:${port}`;

    let stopping: Promise<void> | undefined;
    return {
      url,
      auth,
      logger,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
