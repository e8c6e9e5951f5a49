import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { AUTH_BASE_PATH, authHandler, prepareAuth, type Auth } from './auth/auth.ts';
import { createIdentity } from './auth/identity.ts';
import { publicHostname, type Config } from './config.ts';
import { createPool, migrate, openDatabase } from './db/database.ts';
import { createOrm } from './db/orm.ts';
import { createContextFactory, type Context } from './graphql/context.ts';
import { formatError } from './graphql/errors.ts';
import { operationRules } from './graphql/limits.ts';
import { logUnexpectedErrors, unauthenticatedStatus } from './graphql/plugins.ts';
import { apolloHandler } from './http/apollo-handler.ts';
import { createHttpServer, type Routes } from './http/server.ts';
import { buildSchema } from './graphql/schema.ts';
import { startLive } from './live.ts';
import { createLogger, type Logger } from './logger.ts';
import { TaskSchema } from './tasks/task.entity.ts';

export interface App {
  /** Base URL the server listens on, e.g. http://127.0.0.1:4000 */
  url: string;
  /** Better Auth in embedded mode; undefined when tokens come from elsewhere. */
  auth: Auth | undefined;
  logger: Logger;
  /** Drains in-flight requests, then closes pools and stops an embedded PostgreSQL. */
  stop(): Promise<void>;
}

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
    const pool = createPool(database.url, 10, logger);
    cleanups.push(() => pool.end());
    const { auth, verifier, users } = await createIdentity(config, pool, logger);
    const orm = await createOrm(database.url, [TaskSchema]);
    cleanups.push(() => orm.close());
    await migrate(pool, orm, auth ? () => prepareAuth(auth) : undefined);
    // Live updates: the LISTEN connection and task events (src/live.ts); needs the migrated triggers.
    const live = await startLive(config, database.url, users, logger);
    cleanups.push(() => live.stop());

    const handleAuth = auth ? authHandler(auth, config) : undefined;
    const ready = async () => {
      try {
        await pool.query('select 1');
        return true;
      } catch (err) {
        logger.warn({ err }, 'readiness check failed: database unreachable');
        return false;
      }
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

    const schema = buildSchema();
    const apollo = new ApolloServer<Context>({
      schema,
      formatError,
      // Compact JSON: Apollo's default pretty-prints every response (more CPU, more bytes).
      stringifyResult: (result) => JSON.stringify(result),
      validationRules: operationRules(config.graphql.limits),
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
        config.graphql.introspection
          ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
          : ApolloServerPluginLandingPageDisabled(),
      ],
    });
    await apollo.start();
    cleanups.push(() => apollo.stop());
    const contextDeps = { orm, db: pool, verifier, users, logger, changes: live.changes };
    handleGraphQL = apolloHandler(apollo, {
      context: createContextFactory(contextDeps),
      maxBodyBytes: 1024 * 1024,
    });
    // Subscriptions over WebSocket on /graphql. Registered after Apollo's stop so that it runs
    // before it: sockets close with 1001 first; Apollo's HTTP drain would cut them after its grace.
    const sockets = live.serve(httpServer, schema, contextDeps);
    cleanups.push(() => sockets.stop());

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
