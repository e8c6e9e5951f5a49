import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import express from 'express';
import { pinoHttp } from 'pino-http';
import { AUTH_BASE_PATH, authHandler, type Auth } from './auth/auth.ts';
import { createIdentity } from './auth/identity.ts';
import { publicHostname, type Config } from './config.ts';
import { createPool, migrate, openDatabase } from './db/database.ts';
import { createOrm } from './db/orm.ts';
import { createContextFactory, type Context } from './graphql/context.ts';
import { formatError } from './graphql/errors.ts';
import { logUnexpectedErrors, unauthenticatedStatus } from './graphql/plugins.ts';
import { buildSchema } from './graphql/schema.ts';
import { createLogger, type Logger } from './logger.ts';

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
    const orm = await createOrm(database.url);
    cleanups.push(() => orm.close());
    await migrate(pool, auth, orm);

    const app = express();
    app.disable('x-powered-by');
    const httpServer = http.createServer(app);
    app.use(
      pinoHttp({
        logger,
        genReqId: (req, res) => {
          const id = randomUUID();
          res.setHeader('x-request-id', id);
          return id;
        },
        customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      }),
    );

    if (auth) {
      // Better Auth reads the raw body itself: mount it before any body parser.
      app.all(
        `${AUTH_BASE_PATH}/{*splat}`,
        cors({ origin: config.auth.trustedOrigins, credentials: true }),
        authHandler(auth, config),
      );
    }
    app.get('/healthz', (_req, res) => {
      res.json({ status: 'ok' });
    });
    app.get('/readyz', async (_req, res) => {
      try {
        await pool.query('select 1');
        res.json({ status: 'ready' });
      } catch (err) {
        logger.warn({ err }, 'readiness check failed: database unreachable');
        res.status(503).json({ status: 'unavailable', reason: 'database unreachable' });
      }
    });

    const apollo = new ApolloServer<Context>({
      schema: buildSchema(),
      formatError,
      hideSchemaDetailsFromClientErrors: config.nodeEnv === 'production',
      introspection: config.graphql.introspection,
      // index.ts owns SIGTERM/SIGINT: drain, then close pools, then stop PostgreSQL, in that order.
      stopOnTerminationSignals: false,
      includeStacktraceInErrorResponses: config.nodeEnv === 'development',
      plugins: [
        ApolloServerPluginDrainHttpServer({ httpServer }),
        logUnexpectedErrors,
        unauthenticatedStatus,
        config.graphql.introspection
          ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
          : ApolloServerPluginLandingPageDisabled(),
      ],
    });
    await apollo.start();
    cleanups.push(() => apollo.stop());
    // Bearer tokens, not cookies, authenticate /graphql, so any origin may call it (Apollo Sandbox,
    // a frontend on another host); no credentials are shared.
    app.use(
      '/graphql',
      cors(),
      express.json({ limit: '1mb' }),
      expressMiddleware(apollo, { context: createContextFactory({ orm, db: pool, verifier, users, logger }) }),
    );

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
