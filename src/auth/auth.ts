import type { IncomingMessage, ServerResponse } from 'node:http';
import { betterAuth, type BetterAuthOptions } from 'better-auth';
import { APIError, createAuthMiddleware } from 'better-auth/api';
import { getMigrations } from 'better-auth/db/migration';
import { fromNodeHeaders } from 'better-auth/node';
import { setResponse } from 'better-call/node';
import { jwt } from 'better-auth/plugins';
import type pg from 'pg';
import type { Config } from '../config.ts';
import { isDatabaseUnavailable } from '../db/errors.ts';
import { BodyTimeout, BodyTooLarge, readBody } from '../http/body.ts';
import { sendJson, sendRequestTimeout } from '../http/respond.ts';
import type { Logger } from '../logger.ts';

/** Where Better Auth is mounted; its routes are `${AUTH_BASE_PATH}/*`. */
export const AUTH_BASE_PATH = '/api/auth';
/**
 * The forwarding chain the rate limiter reads, set by the server (never taken from the client)
 * because Better Auth only reads headers: the socket's address, preceded by X-Forwarded-For only
 * when proxies are trusted. Better Auth strips trusted hops from the right, so a client that
 * talks to the server directly is keyed on its own address whatever X-Forwarded-For it sends.
 */
const CLIENT_CHAIN_HEADER = 'x-taskgraph-client-chain';

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
    hooks: {
      // Better Auth deletes the account of a *fresh* session (signed in within a day) without a
      // password: a stolen cookie or an unlocked laptop would be enough. Always ask for it.
      before: createAuthMiddleware((ctx) => {
        const password = (ctx.body as { password?: unknown } | undefined)?.password;
        if (ctx.path === '/delete-user' && (typeof password !== 'string' || password === '')) {
          throw new APIError('BAD_REQUEST', {
            code: 'PASSWORD_REQUIRED',
            message: 'Deleting an account needs its password: send { "password": "..." }.',
          });
        }
        return Promise.resolve();
      }),
    },
    // On whenever the API's own rate limit is (RATE_LIMIT_PER_MINUTE > 0), with Better Auth's
    // per-route rules (e.g. 3 sign-in attempts per 10 s per client address).
    rateLimit: { enabled: config.nodeEnv === 'production' && config.rateLimit.perMinute > 0 },
    databaseHooks: {
      user: {
        update: {
          after: (user) => {
            hooks.onUserChanged(user.id);
            return Promise.resolve();
          },
        },
        delete: {
          after: (user) => {
            hooks.onUserChanged(user.id);
            return Promise.resolve();
          },
        },
      },
    },
    telemetry: { enabled: false },
    // Errors that are not Better Auth's own refusals (a database failure, a bug) are thrown out of
    // auth.handler rather than printed with console.error and answered 500: authHandler answers them.
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
      ipAddress: {
        ipAddressHeaders: [CLIENT_CHAIN_HEADER],
        ...(config.auth.trustedProxies.length > 0 ? { trustedProxies: config.auth.trustedProxies } : {}),
      },
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

/**
 * Better Auth's 429 says `X-Retry-After`; clients and proxies know the standard `Retry-After`.
 * Its answers are per user (sessions, tokens): `Cache-Control: no-store` unless it set its own.
 */
function withStandardHeaders(response: Response, url: string): Response {
  const headers = new Headers(response.headers);
  const retryAfter = headers.get('x-retry-after');
  if (retryAfter && !headers.has('retry-after')) headers.set('retry-after', retryAfter);
  if (!headers.has('cache-control') && !url.startsWith(`${AUTH_BASE_PATH}/jwks`)) headers.set('cache-control', 'no-store');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** Sign-up and sign-in bodies are small; Better Auth's own Node adapter would buffer any size. */
export const AUTH_MAX_BODY_BYTES = 64 * 1024;

/** Seconds clients are asked to wait when the database is down (`Retry-After`). */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/**
 * Node handler for everything under `/api/auth`: the body is read here with a size limit (413
 * beyond it, declared or chunked), then handed to Better Auth as a web Request; the socket address
 * goes along for the rate limiter.
 *
 * A database failure would otherwise reach clients as a 500, or as a 401 where Better Auth reads
 * the session (a client would sign its user out). So when Better Auth throws, or answers 401 or
 * 5xx, the classifier or a quick, bounded probe (`databaseUp`, on Better Auth's pool) decides: database
 * down -> 503 with Retry-After and code SERVICE_UNAVAILABLE; database up -> Better Auth's answer
 * (an error thrown goes on to the HTTP layer: logged, 500).
 */
export function authHandler(auth: Auth, config: Config, logger: Logger, databaseUp: () => Promise<boolean>) {
  const behindProxies = config.auth.trustedProxies.length > 0;
  return async (req: IncomingMessage, res: ServerResponse) => {
    const peer = req.socket.remoteAddress;
    const forwarded = behindProxies ? req.headers['x-forwarded-for'] : undefined;
    // Always overwritten (undefined is dropped by fromNodeHeaders): a client's own value never counts.
    req.headers[CLIENT_CHAIN_HEADER] = peer && forwarded ? `${String(forwarded)}, ${peer}` : peer;
    let body: Buffer | undefined;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      try {
        body = await readBody(req, AUTH_MAX_BODY_BYTES);
      } catch (err) {
        if (err instanceof BodyTimeout) {
          sendRequestTimeout(res);
          return;
        }
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
    let response: Response;
    try {
      response = await auth.handler(request);
    } catch (err) {
      if (!isDatabaseUnavailable(err) && (await databaseUp())) throw err;
      logger.warn({ err }, 'auth request failed: database unavailable');
      unavailable(res);
      return;
    }
    if ((response.status === 401 || response.status >= 500) && !(await databaseUp())) {
      await response.body?.cancel();
      unavailable(res);
      return;
    }
    await setResponse(res, withStandardHeaders(response, req.url ?? ''));
  };
}

function unavailable(res: ServerResponse): void {
  res.setHeader('retry-after', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
  sendJson(res, 503, { message: 'The database is unavailable right now; try again shortly.', code: 'SERVICE_UNAVAILABLE' });
}
