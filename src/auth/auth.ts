import { betterAuth, type BetterAuthOptions } from 'better-auth';
import { APIError, createAuthMiddleware } from 'better-auth/api';
import { getMigrations } from 'better-auth/db/migration';
import { jwt } from 'better-auth/plugins';
import type pg from 'pg';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { checkUserFields, nameClaim } from './user-fields.ts';

/** Where Better Auth is mounted; its routes are `${AUTH_BASE_PATH}/*`. */
export const AUTH_BASE_PATH = '/api/auth';
/**
 * The forwarding chain the rate limiter reads, set by the server (never taken from the client)
 * because Better Auth only reads headers: the socket's address, preceded by X-Forwarded-For only
 * when proxies are trusted. Better Auth strips trusted hops from the right, so a client that
 * talks to the server directly is keyed on its own address whatever X-Forwarded-For it sends.
 */
export const CLIENT_CHAIN_HEADER = 'x-taskgraph-client-chain';

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
        // Before the password is hashed or anything is read: the database hooks below check again
        // for every other way a user is written.
        if (ctx.path === '/sign-up/email' || ctx.path === '/update-user') checkUserFields((ctx.body ?? {}) as Record<string, unknown>);
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
        create: {
          before: (user) => {
            checkUserFields(user);
            return Promise.resolve();
          },
        },
        update: {
          before: (user) => {
            checkUserFields(user);
            return Promise.resolve();
          },
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
          definePayload: ({ user }): TokenClaims => ({ email: user.email, name: nameClaim(user.name) }),
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
 * `migrationPool` (a direct connection's, DATABASE_URL_UNPOOLED) runs the migrations instead of
 * Better Auth's own pool.
 */
export async function prepareAuth(auth: Auth, migrationPool?: pg.Pool): Promise<void> {
  const { runMigrations } = await getMigrations(migrationPool ? { ...auth.options, database: migrationPool } : auth.options);
  await runMigrations();
  await auth.api.getJwks();
}
