import type { IncomingMessage, ServerResponse } from 'node:http';
import { betterAuth, type BetterAuthOptions } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { fromNodeHeaders } from 'better-auth/node';
import { setResponse } from 'better-call/node';
import { jwt } from 'better-auth/plugins';
import type pg from 'pg';
import type { Config } from '../config.ts';
import { BodyTooLarge, readBody } from '../http/body.ts';
import { sendJson } from '../http/respond.ts';
import type { Logger } from '../logger.ts';

/** Where Better Auth is mounted; its routes are `${AUTH_BASE_PATH}/*`. */
export const AUTH_BASE_PATH = '/api/auth';
/**
 * Without trusted proxies, the rate limiter keys on the socket's address, passed in this header
 * (set by the server, never taken from the client) because Better Auth only reads headers.
 */
const SOCKET_IP_HEADER = 'x-taskgraph-socket-ip';

/** The claims a Better Auth JWT carries for this API, besides the registered ones. */
export interface TokenClaims {
  email: string;
  name: string | null;
}

export interface AuthHooks {
  /** A user was changed or deleted: drop whatever is cached about them. */
  onUserChanged(id: string): void;
}

function options(config: Config, pool: pg.Pool, logger: Logger, hooks: AuthHooks) {
  const authLogger = logger.child({ component: 'better-auth' });
  return {
    appName: 'taskgraph',
    baseURL: config.auth.baseUrl,
    basePath: AUTH_BASE_PATH,
    secret: config.auth.secret,
    database: pool,
    trustedOrigins: config.auth.trustedOrigins,
    emailAndPassword: { enabled: true, minPasswordLength: 8, maxPasswordLength: 128 },
    // POST /api/auth/delete-user (with the password): deleting an account deletes its tasks
    // (foreign key, on delete cascade) and makes its unexpired JWTs useless here at once.
    user: { deleteUser: { enabled: true } },
    databaseHooks: {
      user: {
        update: { after: (user) => Promise.resolve(hooks.onUserChanged(user.id)) },
        delete: { after: (user) => Promise.resolve(hooks.onUserChanged(user.id)) },
      },
    },
    telemetry: { enabled: false },
    // Unexpected errors (a database outage) reach our HTTP layer, which logs each once as JSON with
    // the request id and answers; left to Better Auth, its router also console.error()s the error
    // as a multi-line dump. Refusals (APIError: bad password, 401...) are answered as before.
    onAPIError: { throw: true },
    logger: {
      // 'info' (not warn/error) also keeps Better Auth from printing refused requests with
      // console.error; its info lines are chatty, so they go to pino's debug level.
      level: 'info',
      log: (level, message, ...args) => authLogger[level === 'info' ? 'debug' : level]({ args }, message),
    },
    advanced: {
      // Explicit, so that the check also runs when NODE_ENV=test (Better Auth skips it there by default).
      disableOriginCheck: false,
      ipAddress:
        config.auth.trustedProxies.length > 0
          ? { ipAddressHeaders: ['x-forwarded-for'], trustedProxies: config.auth.trustedProxies }
          : { ipAddressHeaders: [SOCKET_IP_HEADER] },
    },
    plugins: [
      jwt({
        jwks: {
          keyPairConfig: { alg: 'EdDSA', crv: 'Ed25519' },
          ...(config.auth.keyRotation
            ? { rotationInterval: config.auth.keyRotation.intervalSeconds, gracePeriod: config.auth.keyRotation.gracePeriodSeconds }
            : {}),
        },
        jwt: {
          issuer: config.auth.issuer,
          audience: config.auth.audience,
          expirationTime: `${config.auth.jwtLifetimeSeconds}s`,
          // The default payload is the whole user row; the API needs only these.
          definePayload: ({ user }): TokenClaims => ({ email: user.email, name: user.name || null }),
        },
      }),
    ],
  } satisfies BetterAuthOptions;
}

export function createAuth(config: Config, pool: pg.Pool, logger: Logger, hooks: AuthHooks = { onUserChanged: () => {} }) {
  return betterAuth(options(config, pool, logger, hooks));
}
export type Auth = ReturnType<typeof createAuth>;

/**
 * Creates Better Auth's tables (idempotent) and its first signing key. The key is otherwise made
 * lazily on the first token request, where concurrent first requests could each create one.
 */
export async function prepareAuth(auth: Auth): Promise<void> {
  const { runMigrations } = await getMigrations(auth.options);
  await runMigrations();
  await auth.api.getJwks();
}

/** Sign-up and sign-in bodies are small; Better Auth's own Node adapter would buffer any size. */
export const AUTH_MAX_BODY_BYTES = 64 * 1024;

/**
 * Node handler for everything under `/api/auth`: the body is read here with a size limit (413
 * beyond it, declared or chunked), then handed to Better Auth as a web Request; the socket address
 * goes along for the rate limiter.
 */
export function authHandler(auth: Auth, config: Config) {
  const fromSocket = config.auth.trustedProxies.length === 0;
  return async (req: IncomingMessage, res: ServerResponse) => {
    delete req.headers[SOCKET_IP_HEADER];
    if (fromSocket && req.socket.remoteAddress) req.headers[SOCKET_IP_HEADER] = req.socket.remoteAddress;
    let body: Buffer | undefined;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      try {
        body = await readBody(req, AUTH_MAX_BODY_BYTES);
      } catch (err) {
        if (!(err instanceof BodyTooLarge)) throw err;
        sendJson(res, 413, { message: `The request body is larger than ${AUTH_MAX_BODY_BYTES} bytes.`, code: 'PAYLOAD_TOO_LARGE' });
        return;
      }
    }
    const proto = req.headers['x-forwarded-proto'] ?? ('encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http');
    const request = new Request(`${String(proto)}://${req.headers.host}${req.url}`, {
      method: req.method,
      headers: fromNodeHeaders(req.headers),
      ...(body && body.length > 0 ? { body } : {}),
    });
    await setResponse(res, await auth.handler(request));
  };
}
