import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import cors from 'cors';
import { pinoHttp } from 'pino-http';
import { AUTH_BASE_PATH, authHandler, type Auth } from './auth/auth.ts';
import { createIdentity } from './auth/identity.ts';
import { publicHostname, type Config } from './config.ts';
import { createPool, migrate, openDatabase } from './db/database.ts';
import { createOrm } from './db/orm.ts';
import { createContextFactory, type Context } from './graphql/context.ts';
import { formatError } from './graphql/errors.ts';
import { maxRootFields } from './graphql/limits.ts';
import { logUnexpectedErrors, unauthenticatedStatus } from './graphql/plugins.ts';
import { apolloHandler } from './http/apollo-handler.ts';
import { sendJson } from './http/respond.ts';
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

    const logRequest = pinoHttp({
      logger,
      genReqId: (_req, res) => {
        const id = randomUUID();
        res.setHeader('x-request-id', id);
        return id;
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      // One short line per request: what was asked, how it ended. Headers (tokens, cookies) stay out.
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    });
    // Bearer tokens, not cookies, authenticate /graphql, so any origin may call it (Apollo Sandbox,
    // a frontend on another host) without credentials. /api/auth uses cookies: trusted origins only.
    const graphqlCors = cors();
    const authCors = cors({ origin: config.auth.trustedOrigins, credentials: true });
    const handleAuth = auth ? authHandler(auth, config) : undefined;

    const readiness = async (res: http.ServerResponse) => {
      try {
        await pool.query('select 1');
        sendJson(res, 200, { status: 'ready' });
      } catch (err) {
        logger.warn({ err }, 'readiness check failed: database unreachable');
        sendJson(res, 503, { status: 'unavailable', reason: 'database unreachable' });
      }
    };

    const httpServer = http.createServer();
    const route = (req: http.IncomingMessage, res: http.ServerResponse) => {
      logRequest(req, res);
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const pathname = q === -1 ? url : url.slice(0, q);
      const fail = (err: unknown) => {
        logger.error({ err, url }, 'request failed');
        if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
        else res.destroy();
      };
      if (pathname === '/graphql') {
        graphqlCors(req, res, () => void handleGraphQL(req, res, q === -1 ? '' : url.slice(q)).catch(fail));
      } else if (handleAuth && pathname.startsWith(`${AUTH_BASE_PATH}/`)) {
        // Better Auth reads and parses the body itself.
        authCors(req, res, () => void Promise.resolve(handleAuth(req, res)).catch(fail));
      } else if (pathname === '/healthz') {
        sendJson(res, 200, { status: 'ok' });
      } else if (pathname === '/readyz') {
        readiness(res).catch(fail);
      } else {
        sendJson(res, 404, { error: 'not found' });
      }
    };

    const apollo = new ApolloServer<Context>({
      schema: buildSchema(),
      formatError,
      csrfPrevention: { requestHeaders: ['x-apollo-operation-name', 'apollo-require-preflight', 'authorization'] },
      // Compact JSON: Apollo's default pretty-prints every response (more CPU, more bytes).
      stringifyResult: (result) => JSON.stringify(result),
      validationRules: [maxRootFields()],
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
    const handleGraphQL = apolloHandler(apollo, {
      context: createContextFactory({ orm, db: pool, verifier, users, logger }),
      maxBodyBytes: 1024 * 1024,
    });
    httpServer.on('request', route);

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
